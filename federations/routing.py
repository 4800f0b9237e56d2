from django.urls import path

from . import consumers

websocket_urlpatterns = [
    path("ws/catalog/", consumers.CatalogConsumer.as_asgi()),
    path("ws/federations/<int:federation_id>/", consumers.FederationConsumer.as_asgi()),
]
