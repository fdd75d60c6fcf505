"""Everything users read: the sentences (text), the views and buttons' layout, uploads."""
