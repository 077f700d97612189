"""inbox stage."""
