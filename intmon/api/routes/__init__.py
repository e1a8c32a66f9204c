"""The API's endpoints, one module per resource; each handler calls one function."""
