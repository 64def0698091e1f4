"""The counters: the places where customers are served (HQ and one per state). See `models`."""
