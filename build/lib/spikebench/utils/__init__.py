"""Small helpers with no knowledge of the study: atomic writes, job logging, the memory allocator."""
