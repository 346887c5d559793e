"""A small package whose parts are reached in every way a test can reach code."""
