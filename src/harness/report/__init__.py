"""The release report a gate run writes (JSON and HTML). Imports `core` and `gates`."""
