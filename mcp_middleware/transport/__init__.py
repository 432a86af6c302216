"""HTTP framing for the MCP endpoint: both protocol eras on one path, chosen per request."""
