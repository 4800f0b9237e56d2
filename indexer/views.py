from django.conf import settings
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from f2f_site.limits import over_hourly_limit, too_many

from . import services
from .forms import CandidacyForm
from .models import Candidacy


@require_http_methods(["GET", "POST"])
def be_a_server(request):
    """The public candidacy form; a valid submission goes to its private status page. Each client address
    submits at most F2F_SUBMISSIONS_PER_HOUR an hour."""
    if request.method == "POST" and over_hourly_limit(request, group="submissions",
                                                      per_hour=settings.F2F_SUBMISSIONS_PER_HOUR):
        return too_many(request, "submissions")
    form = CandidacyForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        content, filename = data["client_file"]
        candidacy = services.candidacy_submit(
            card={field: data[field] for field in Candidacy.CARD_FIELDS},
            num_rounds=data["num_rounds"], min_clients=data["min_clients"],
            client_content=content, client_filename=filename, requirements_txt=data["requirements"],
        )
        return redirect("indexer:status", access_key=candidacy.access_key)
    return render(request, "indexer/be_a_server.html", {"form": form}, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
def candidacy_status(request, access_key):
    """The candidate's private page: progress, validation report, decision; a POST reveals the token once.

    Revealing takes a deliberate POST so that a link preview or scanner opening the page cannot
    use up the only showing of the token.
    """
    candidacy = get_object_or_404(Candidacy.objects.defer("client_content"), access_key=access_key)
    token = None
    if request.method == "POST" and candidacy.status == Candidacy.Status.APPROVED:
        token = services.candidacy_reveal_token(candidacy_id=candidacy.pk)
    response = render(request, "indexer/status.html", {
        "candidacy": candidacy, "token": token, "decision": candidacy.latest_decision(),
        "report": candidacy.report or {},
    })
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "same-origin"  # the link is the candidate's secret: never sent to other sites
    return response
