import re
import unicodedata

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from f2f_site.admin_inlines import RecordInline

from . import selectors, services
from .models import Candidacy, Decision


class DecisionInline(RecordInline, admin.TabularInline):
    model = Decision
    fields = ["action", "actor", "at", "reason"]


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
                             help_text="Shown to the candidate and kept with the decision.")


def source_lines(content: bytes | str) -> list[str]:
    """The file's lines as Python numbers them: only \\n, \\r\\n and \\r end a line (not \\f or U+2028)."""
    text = content.decode("utf-8", errors="replace") if isinstance(content, bytes) else content
    return re.split(r"\r\n|\r|\n", text)


def review_items(report: dict | None) -> list[dict]:
    """Errors then findings of a stored report, each with its anchor ("L12", or "" for the whole file)."""
    items = [*(report or {}).get("errors", []), *(report or {}).get("findings", [])]
    return [{**item, "anchor": f"L{item['line']}" if item.get("line") else ""} for item in items]


# Unicode's default-ignorable code points: characters a browser draws as nothing at all.
DEFAULT_IGNORABLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f"
    "\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]")
# Controls, format characters (bidi overrides among them), line/paragraph separators, spaces other than
# U+0020, private-use, unassigned and surrogate code points: none of them reads as what it is.
UNREADABLE_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Zs", "Co", "Cn", "Cs"}
# What may need a badge: anything but printable ASCII and tab, and long runs of blanks that could push
# code out of sight; each candidate character is then decided by ``unreadable``.
BADGE_CANDIDATES = re.compile(r"[ \t]{80,}|[^\t\x20-\x7e]")
FOLD_BLANK_LINES = 8  # a run of at least this many blank lines is shown as one row
SECTION_ROWS = 200


def unreadable(char: str) -> bool:
    return char != " " and (unicodedata.category(char) in UNREADABLE_CATEGORIES
                            or DEFAULT_IGNORABLE.fullmatch(char) is not None)


def _badge(match: re.Match) -> str:
    found = match.group()
    if len(found) > 1:
        return f'<span class="f2f-char" title="a run of blanks">{len(found)} blanks</span>'
    if not unreadable(found):
        return found
    code = f"U+{ord(found):04X}"
    name = escape(unicodedata.name(found, "control or unnamed"))
    return f'<span class="f2f-char" title="{code} {name}">{code}</span>'


def line_html(text: str) -> str:
    """One line of source made inert: escaped, with every character that would draw as nothing, as
    something else, or reorder its neighbours (a bidi control) replaced by a visible badge."""
    return BADGE_CANDIDATES.sub(_badge, escape(text))


def source_listing(content: bytes | str, items: list[dict] = (), *, prefix: str = "L") -> SafeString:
    """The whole file as the reviewer reads it: one row per Python line, anchored ``#{prefix}{n}``, the
    lines that ``items`` name marked with their rules. Built here rather than in a template loop: a
    256 KB file can have a quarter of a million lines.

    Runs of blank lines are folded into one row, anchored at the run's first line, that says how many
    there are: code pushed far below by blank lines is not missed, and a file of 250,000 newlines stays a
    small page. A line that an item names is never folded, so every item's link has its row.
    """
    rules_at: dict[int, list[str]] = {}
    for item in items:
        rules_at.setdefault(item["line"], []).append(item["rule"])
    lines = source_lines(content)
    rows, number, total = [], 1, len(lines)
    while number <= total:
        end = number
        while end <= total and not lines[end - 1].strip(" \t") and end not in rules_at:
            end += 1
        row_id, number_link = f'id="{prefix}{number}"', f'<a href="#{prefix}{number}">{number}</a>'
        if end - number >= FOLD_BLANK_LINES:
            fold = f"\u22ef {end - number:,} blank lines ({number}\u2013{end - 1}) \u22ef"
            rows.append(f'<div class="f2f-fold" {row_id}>{number_link}<span>{fold}</span></div>')
            number = end
            continue
        text = line_html(lines[number - 1])
        if rules := rules_at.get(number):
            flag = f'<strong class="f2f-rules">\u25c0 {escape(", ".join(rules))}</strong>'
            rows.append(f'<div class="f2f-flagged" {row_id}>{number_link}<span>{text} {flag}</span></div>')
        else:
            rows.append(f"<div {row_id}>{number_link}<span>{text}</span></div>")
        number += 1
    # Rows go in sections that the browser lays out only when they scroll into view (content-visibility):
    # without them, chromium took 20 s to show a file of 130,000 one-character lines, 2 s with them.
    sections = "".join(f"<section>{''.join(rows[start:start + SECTION_ROWS])}</section>"
                       for start in range(0, len(rows), SECTION_ROWS))
    return mark_safe(f'<div class="f2f-source" data-lines="{total}">{sections}</div>')  # each line escaped above


def source_box(content: bytes | str, items: list[dict] = (), *, prefix: str = "L") -> str:
    """The listing with what a reviewer should know about it first: its size and how many badges it holds."""
    listing = source_listing(content, items, prefix=prefix)
    return render_to_string("admin/indexer/source.html", {
        "listing": listing, "lines": len(source_lines(content)),
        "size": len(content.encode() if isinstance(content, str) else content),
        "badges": listing.count('class="f2f-char"')})


@admin.register(Candidacy)
class CandidacyAdmin(admin.ModelAdmin):
    list_display = ["name", "status", "verdict", "finding_count", "server_address", "owner_contact", "created_at"]
    list_filter = ["status", "verdict", "category", "flower_api", "created_at"]
    search_fields = ["name", "owner_contact", "server_address", "client_sha256"]
    actions = ["approve", "decline"]
    inlines = [DecisionInline]
    readonly_fields = ["status", "verdict", "finding_count", "validation_report", "client_filename", "client_sha256",
                       "client_size", "requirements_source", "client_source", "federation", "created_at", "updated_at",
                       *Candidacy.CARD_FIELDS, "num_rounds", "min_clients"]
    fieldsets = [
        ("Review", {"fields": ["status", "verdict", "finding_count", "validation_report", "federation"]}),
        ("Client.py", {"fields": ["client_filename", "client_sha256", "client_size", "client_source",
                                  "requirements_source"]}),
        ("Card", {"fields": [*Candidacy.CARD_FIELDS, "num_rounds", "min_clients"]}),
        (None, {"fields": ["created_at", "updated_at"]}),
    ]

    class Media:
        css = {"all": ["indexer/review.css"]}

    def get_queryset(self, request):
        return super().get_queryset(request).defer("client_content")

    def has_add_permission(self, request):
        return False  # candidacies come from the public form

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request)  # decisions go through the actions

    @admin.display(description="validation report")
    def validation_report(self, candidacy):
        if candidacy.report is None:
            return "Not validated yet."
        return render_to_string("admin/indexer/report.html", {
            "candidacy": candidacy, "items": review_items(candidacy.report)})

    @admin.display(description="size")
    def client_size(self, candidacy):
        return f"{len(candidacy.client_content):,} bytes"

    @admin.display(description="source (the exact bytes served)")
    def client_source(self, candidacy):
        return source_box(bytes(candidacy.client_content), review_items(candidacy.report))

    @admin.display(description="requirements.txt (as submitted; not checked automatically)")
    def requirements_source(self, candidacy):
        return source_box(candidacy.requirements_txt, prefix="R") if candidacy.requirements_txt else "None given."

    def _decide(self, request, queryset, service, verb):
        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            for candidacy in queryset:
                try:
                    service(candidacy_id=candidacy.pk, actor=request.user, reason=form.cleaned_data["reason"])
                except ValidationError as error:
                    self.message_user(request, f"{candidacy.name}: {' '.join(error.messages)}", messages.ERROR)
                else:
                    self.message_user(request, f"{candidacy.name}: {verb}.", messages.SUCCESS)
            return None
        return TemplateResponse(request, "admin/indexer/decide.html", {
            **self.admin_site.each_context(request), "title": f"{verb.capitalize()} candidacies",
            "form": form, "action": request.POST["action"], "verb": verb,
            "candidacies": [(candidacy, selectors.candidacy_served(candidacy)) for candidacy in queryset.defer(None)],
            "opts": self.model._meta,
        })

    @admin.action(description="Approve selected candidacies (list them, issue tokens)", permissions=["change"])
    def approve(self, request, queryset):
        return self._decide(request, queryset, services.candidacy_approve, "approved")

    @admin.action(description="Decline selected candidacies", permissions=["change"])
    def decline(self, request, queryset):
        return self._decide(request, queryset, services.candidacy_decline, "declined")
