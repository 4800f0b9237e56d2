from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html

from f2f_site.admin_inlines import RecordInline
from reports.admin import moderate
from reports.models import OPEN_STATUSES, Action, ModerationAction

from . import services
from .models import ClientFile, Federation, LiveState, ReportingToken


class ReportingTokenInline(RecordInline, admin.TabularInline):
    model = ReportingToken
    fields = ["token_hash", "created_at", "revoked_at"]
    verbose_name_plural = "reporting tokens (only their SHA-256 is stored)"


class LiveStateInline(RecordInline, admin.StackedInline):
    model = LiveState
    fields = LiveState.FIELDS
    verbose_name_plural = "training state (reported by the server)"

    def has_view_permission(self, request, obj=None):  # part of the federation, not a model of its own to staff
        return request.user.has_perm("federations.view_federation") or \
            request.user.has_perm("federations.change_federation")


class ModerationActionInline(RecordInline, admin.TabularInline):
    model = ModerationAction
    fields = ["created_at", "action", "actor", "reason"]
    verbose_name_plural = "moderation (what was done to its standing, by whom and why)"


@admin.register(Federation)
class FederationAdmin(admin.ModelAdmin):
    list_display = [
        "name", "live__status", "live__phase", "category", "application", "round_progress",
        "live__connected_clients", "live__completed_rounds", "download_count", "live__last_update",
    ]
    list_filter = [
        ("suspended_at", admin.EmptyFieldListFilter), ("under_review_since", admin.EmptyFieldListFilter),
        "live__status", "live__phase", "category", "flower_api", "created_at",
    ]
    list_select_related = ["live"]
    search_fields = ["name", "slug", "application", "tags", "server_address", "owner_contact"]
    prepopulated_fields = {"slug": ["name"]}
    raw_id_fields = ["client_file"]
    date_hierarchy = "created_at"
    inlines = [LiveStateInline, ReportingTokenInline, ModerationActionInline]
    actions = ["rotate_reporting_token", "revoke_reporting_tokens", moderate(Action.SUSPENDED),
               moderate(Action.REINSTATED), moderate(Action.CLEARED), moderate(Action.FLAGGED)]
    list_per_page = 50
    show_full_result_count = False  # a COUNT(*) over a large catalog on every page is wasted work
    readonly_fields = ["download_count", "created_at", "suspended_at", "under_review_since", "fault_reports"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "category", "application", "description", "tags"]}),
        ("Card", {"fields": [
            "model_name", "data_expected", "flower_version", "flower_api", "privacy_measures",
            "compute_needs", "license", "owner_contact",
        ]}),
        ("Joining", {"fields": ["server_address", "client_file"]}),
        ("Counts and standing", {"fields": readonly_fields}),
    ]

    @admin.display(description="fault reports")
    def fault_reports(self, federation):
        url = reverse("admin:reports_faultreport_changelist") + f"?federation__id__exact={federation.pk}"
        return format_html('<a href="{}">{} report(s), {} open</a>', url, federation.fault_reports.count(),
                           federation.fault_reports.filter(status__in=OPEN_STATUSES).count())

    @admin.display(description="round")
    def round_progress(self, federation):
        return f"{federation.live.current_round}/{federation.live.total_rounds}"

    @admin.action(description="Issue a new reporting token (revokes the old one)", permissions=["change"])
    def rotate_reporting_token(self, request, queryset):
        for federation in queryset:
            token = services.reporting_token_issue(federation=federation)
            self.message_user(
                request,
                f"New reporting token for {federation} (id {federation.pk}), shown only now: {token}",
                messages.WARNING,
            )

    @admin.action(description="Revoke reporting tokens", permissions=["change"])
    def revoke_reporting_tokens(self, request, queryset):
        revoked = sum(services.reporting_token_revoke(federation=federation) for federation in queryset)
        self.message_user(request, f"{revoked} token(s) revoked.", messages.SUCCESS)


class ClientFileUploadForm(forms.ModelForm):
    upload = forms.FileField(help_text="The Client.py handed to people who join.")

    class Meta:
        model = ClientFile
        fields = []

    def clean_upload(self) -> bytes:
        upload = self.cleaned_data["upload"]
        if upload.size > settings.F2F_CLIENT_FILE_MAX_BYTES:
            raise ValidationError("The file is too large.", code="too_large")
        return upload.read()


@admin.register(ClientFile)
class ClientFileAdmin(admin.ModelAdmin):
    list_display = ["sha256", "size", "federation_count", "created_at"]
    search_fields = ["sha256", "federations__name"]
    readonly_fields = ["sha256", "size", "created_at", "federation_count", "source"]
    fields = readonly_fields

    def get_queryset(self, request):
        return super().get_queryset(request).defer("content").annotate(federation_count=Count("federations"))

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = ClientFileUploadForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        return ["upload"] if obj is None else self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if not change:
            stored = services.client_file_store(content=form.cleaned_data["upload"])
            obj.pk, obj.sha256, obj.size, obj.created_at = stored.pk, stored.sha256, stored.size, stored.created_at
            obj._state.adding = False

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    @admin.display(description="federations", ordering="federation_count")
    def federation_count(self, client_file):
        return getattr(client_file, "federation_count", None) or client_file.federations.count()

    @admin.display(description="source")
    def source(self, client_file):
        return format_html("<pre style='max-height:40em;overflow:auto'>{}</pre>",
                           bytes(client_file.content).decode("utf-8", errors="replace"))
