"""Small helpers shared by the tests that drive the filesystem directly."""
import os


def read(fs, path):
    """What `cat` would get: open, read everything, release."""
    fh = fs.open(path, os.O_RDONLY)
    try:
        return fs.read(path, 1 << 20, 0, fh)
    finally:
        fs.release(path, fh)
