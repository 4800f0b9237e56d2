from django.core.validators import RegexValidator

# host:port, with a DNS name, an IPv4 address or a bracketed IPv6 address. Nothing a shell
# would interpret, since the address is pasted into the join command.
validate_server_address = RegexValidator(
    r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?):([1-9][0-9]{0,4})$",
    "Enter host:port, e.g. fl.example.org:8080 or [::1]:8080.",
    code="invalid_server_address",
)

validate_flower_version = RegexValidator(
    r"^[0-9]+\.[0-9]+(\.[0-9]+)?$", "Enter a Flower version such as 1.42.0.", code="invalid_flower_version"
)
