"""Flooding refused: reports and submissions per client address, HTTP 429 with a readable page."""

import os
import urllib.error
import urllib.parse
import urllib.request

import pytest
from django.urls import reverse

from conftest import start_portal, stop, database_url
from reports.models import FaultReport


def report(client, federation, address):
    return client.post(reverse("reports:new"), {
        "federation": federation.slug, "category": "bug", "priority": "normal",
        "description": "The client crashes at round 2.", "contact": ""}, REMOTE_ADDR=address)


def test_the_report_after_the_limit_gets_429_and_saves_nothing(client, settings, federation):
    settings.F2F_REPORTS_PER_HOUR = 3
    assert [report(client, federation, "192.0.2.1").status_code for _ in range(3)] == [302, 302, 302]
    refused = report(client, federation, "192.0.2.1")
    assert refused.status_code == 429 and refused["Retry-After"] == "3600"
    assert "Too many reports from your address" in refused.content.decode()
    assert FaultReport.objects.count() == 3
    assert report(client, federation, "192.0.2.2").status_code == 302  # another address has its own count
    assert client.get(reverse("reports:new")).status_code == 200  # reading the form is not limited


def test_a_proxy_does_not_make_everyone_one_client(client, settings, federation):
    settings.F2F_REPORTS_PER_HOUR = 1
    settings.F2F_TRUSTED_PROXIES = [__import__("ipaddress").ip_network("10.0.0.1/32")]
    via_proxy = {"REMOTE_ADDR": "10.0.0.1"}
    for address in ("192.0.2.10", "192.0.2.11"):
        response = client.post(reverse("reports:new"), {
            "federation": federation.slug, "category": "bug", "priority": "normal",
            "description": "The client crashes at round 2."}, HTTP_X_FORWARDED_FOR=address, **via_proxy)
        assert response.status_code == 302
    assert client.post(reverse("reports:new"), {}, HTTP_X_FORWARDED_FOR="192.0.2.10", **via_proxy).status_code == 429


def test_submissions_after_the_limit_get_429(client, settings, db):
    settings.F2F_SUBMISSIONS_PER_HOUR = 2
    statuses = [client.post(reverse("indexer:apply"), {"name": "x"}, REMOTE_ADDR="192.0.2.3").status_code
                for _ in range(3)]
    assert statuses == [400, 400, 429]  # invalid submissions count too: the limit is on attempts
    assert "Too many submissions" in client.post(reverse("indexer:apply"), {"name": "x"},
                                                 REMOTE_ADDR="192.0.2.3").content.decode()


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="set REDIS_URL to count in Redis (the services mode)")
def test_two_portal_processes_share_the_count_in_redis(transactional_db, tmp_path, federation):
    env = {"DATABASE_URL": database_url(), "F2F_REPORTS_PER_HOUR": "2"}
    portals = [start_portal(tmp_path, env) for _ in range(2)]
    try:
        def post(portal):
            opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
            form = opener.open(f"{portal.url}/report/?federation={federation.slug}").read().decode()
            csrf = form.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
            data = urllib.parse.urlencode({"csrfmiddlewaretoken": csrf, "federation": federation.slug,
                                           "category": "bug", "priority": "normal",
                                           "description": "The client crashes at round 2."}).encode()
            request = urllib.request.Request(f"{portal.url}/report/", data, headers={"Referer": f"{portal.url}/report/"})
            try:
                return opener.open(request).status
            except urllib.error.HTTPError as error:
                return error.code

        assert [post(portals[0]), post(portals[1]), post(portals[0]), post(portals[1])] == [200, 200, 429, 429]
        assert FaultReport.objects.count() == 2
    finally:
        for portal in portals:
            stop(portal.process)


def test_reports_are_accepted_while_the_counts_cannot_be_kept(client, settings, federation):
    # Redis down (nothing listens there): the report is worth more than the flood protection.
    settings.CACHES = {**settings.CACHES, "limits": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                                     "LOCATION": "redis://127.0.0.1:1/0"}}
    settings.F2F_REPORTS_PER_HOUR = 1
    assert [report(client, federation, "192.0.2.4").status_code for _ in range(2)] == [302, 302]
    assert FaultReport.objects.count() == 2
