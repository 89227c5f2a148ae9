"""Files in, chunks out: loaders per format, row-aware spreadsheets, chunking and stable ids."""
