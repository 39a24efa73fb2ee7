"""Pure rules of the product: no I/O, no database, no clock reads beyond arguments."""
