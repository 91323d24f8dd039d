"""yanex.api"""
