"""yanex.results"""
