"""awsfs: AWS mounted as a read-write filesystem."""
__version__ = "0.1.0"
