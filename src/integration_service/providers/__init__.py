"""One module per provider behind one small interface (base.py); the registry maps names to them."""
