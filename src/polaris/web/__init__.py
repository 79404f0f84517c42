"""The HTTP interface: app middleware, error mapping, and (later) the browser pages."""
