from django.conf import settings
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from f2f_site.limits import over_hourly_limit, request_client_address, too_many

from . import services
from .forms import ReportForm


@require_http_methods(["GET", "POST"])
def report_new(request):
    """Report a problem with a federation (pre-filled from its page: ``?federation=<slug>``); a valid report
    is filed and the reporter thanked. Each client address files at most F2F_REPORTS_PER_HOUR an hour."""
    if request.method == "POST" and over_hourly_limit(request, group="reports", per_hour=settings.F2F_REPORTS_PER_HOUR):
        return too_many(request, "reports")
    form = ReportForm(request.POST or None, initial={"federation": request.GET.get("federation", "")})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        services.report_file(federation=data["federation"], reporter=services.reporter_of(request_client_address(request)),
                             category=data["category"], priority=data["priority"],
                             description=data["description"], contact=data["contact"])
        return redirect("reports:sent")
    return render(request, "reports/new.html", {"form": form}, status=400 if form.errors else 200)


@require_GET
def report_sent(request):
    """Thanks, and what happens next."""
    return render(request, "reports/sent.html")
