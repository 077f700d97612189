"""staff stage."""
