"""A minimal Django app (settings in code) served through workers.wsgi."""

import json

from django.conf import settings

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="not-a-secret",
        ROOT_URLCONF=__name__,
        ALLOWED_HOSTS=["*"],
        MIDDLEWARE=[],
        INSTALLED_APPS=[],
        DATABASES={},
        USE_TZ=True,
    )

from django.core.wsgi import get_wsgi_application
from django.http import HttpResponse, JsonResponse
from django.urls import path
from workers import WorkerEntrypoint, wsgi


def home(request):
    env = request.META["workers.env"]
    return HttpResponse(f"django says {env.MODE}", content_type="text/plain")


def submit(request):
    data = json.loads(request.body)
    return JsonResponse({"got": data, "method": request.method, "path": request.path}, status=201)


def gone(request):
    response = HttpResponse(status=204)
    response["x-reason"] = "nothing"
    return response


urlpatterns = [path("", home), path("submit/", submit), path("gone/", gone)]

application = get_wsgi_application()


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return await wsgi.fetch(application, request, self.env)
