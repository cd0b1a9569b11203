"""One module per command: each parses its options, builds a request, calls one library
function and renders the result (cli.py registers them and reports their errors)."""
