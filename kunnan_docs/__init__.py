"""kunnan-docs: archive packages for Chengdu trade unions' worker-hardship files (成工办〔2019〕43号)."""

__version__ = "0.1.0"
