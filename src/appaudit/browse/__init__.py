"""``appaudit browse``: Datasette over a results store (metadata, named queries and one plugin)."""
