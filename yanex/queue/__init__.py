"""yanex.queue"""
