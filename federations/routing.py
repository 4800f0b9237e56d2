"""Browser WebSocket routes (live catalog and federation pages arrive with live monitoring)."""

websocket_urlpatterns = []
