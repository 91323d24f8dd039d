"""yanex.execution"""
