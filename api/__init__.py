"""The web service: app factory wiring config, database, error shape and blueprints."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask_smorest import Api

from api.auth import BEARER_SCHEME, SECURITY_SCHEME
from api.blueprint import PostcodeConverter, postcode_path_schema
from api.config import load_settings
from api.database import init_database
from api.errors import (
    refuse_deep_json,
    refuse_nul_characters,
    register_error_handlers,
    require_json_bodies,
)
from api.limits import check_limits
from api.logs import init_logging
from feeds.ingest.http import LOOPBACK_NETWORKS, FetchPolicy, HttpClient

API_TITLE = "hyperlocal"
API_VERSION = "0.1.0"
OPENAPI_VERSION = "3.0.3"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: settings from HYPERLOCAL_* (then ``config``), database, routes.

    Refuses to start (raises DatabaseNotMigrated naming the command to run) when the
    database schema is not current, unless ``VERIFY_SCHEMA`` is false.
    """
    app = Flask("api", instance_relative_config=True)
    app.config.update(load_settings())
    if config:
        app.config.update(config)
    app.config.update(
        API_TITLE=API_TITLE,
        API_VERSION=API_VERSION,
        OPENAPI_VERSION=OPENAPI_VERSION,
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        # Swagger UI's assets from the swagger-ui-bundle package (pages.docs_asset): /docs
        # works offline, and loads nothing from a CDN.
        OPENAPI_SWAGGER_UI_URL="/docs/assets/",
        API_SPEC_OPTIONS={
            "info": {
                "description": "Directory of UK hyperlocal sites and neighbourhood police teams, "
                "indexed by postcode. Contains OS data © Crown copyright and database right "
                "2025; Royal Mail data © Royal Mail copyright and database right 2025; "
                "National Statistics data © Crown copyright and database right 2025 (OGL v3).",
            },
        },
        JSON_SORT_KEYS=False,
        # The largest body is a site with a detailed polygon: 20,000 positions fit in 2 MB.
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    check_limits(app.config)  # before anything is opened: a bad setting stops here
    init_logging(app)
    init_database(app)
    _init_geocoder(app)
    app.extensions["hyperlocal_http"] = http_client(app.config)

    # One Api per app (flask-smorest keeps its spec on the Api object, so a module-level one
    # shared by the test suite's many apps would mix their specs).
    app.url_map.converters["postcode"] = PostcodeConverter
    api = Api(app)
    api.register_converter(PostcodeConverter, postcode_path_schema)
    app.extensions["hyperlocal_api"] = api
    api.spec.components.security_scheme(SECURITY_SCHEME, BEARER_SCHEME)
    register_error_handlers(app)
    app.before_request(require_json_bodies)
    app.before_request(refuse_nul_characters)
    app.before_request(refuse_deep_json)

    from api import (
        bulletins,
        caching,
        embed,
        feeds,
        gazetteer,
        health,
        keys,
        limits,
        metrics,
        moderation,
        pages,
        police,
        postcodes,
        sites,
        submissions,
        subscriptions,
        websub,
    )

    limiter = limits.init_limits(app)
    api.register_blueprint(health.blp)
    api.register_blueprint(metrics.blp)
    metrics.init_metrics(app)
    api.register_blueprint(postcodes.blp)
    api.register_blueprint(gazetteer.blp)
    api.register_blueprint(sites.blp)
    api.register_blueprint(police.blp)
    api.register_blueprint(feeds.blp)
    api.register_blueprint(bulletins.blp)
    api.register_blueprint(subscriptions.blp)
    api.register_blueprint(keys.blp)
    api.register_blueprint(submissions.blp)
    api.register_blueprint(websub.blp)
    app.register_blueprint(pages.blp)  # HTML for people: not part of the API's spec
    app.register_blueprint(embed.blp)  # the editors' widget
    app.register_blueprint(moderation.blp)  # admins' review of submitted sites
    app.after_request(embed.public_cors)
    limits.limit_blueprints(app, limiter, {"sites": sites.blp, "submissions": submissions.blp,
                                           "moderation": moderation.blp,
                                           "bulletins": bulletins.blp})  # fmt: skip
    caching.init_caching(app)  # last: its 304s are what the other hooks see
    if app.config.get("BROKER_URL"):  # new webhook messages go to the Celery send queue
        from api import tasks

        tasks.enable_in(app)
    if app.config.get("DEMO"):
        from api import demo_feeds

        api.register_blueprint(demo_feeds.blp)
    return app


def http_client(settings: Mapping[str, Any]) -> HttpClient:
    """The one outbound HTTP client, with the deployment's limits."""
    return HttpClient(
        FetchPolicy(
            user_agent=settings["HTTP_USER_AGENT"],
            total_timeout=settings["HTTP_TIMEOUT_SECONDS"],
            max_bytes=settings["HTTP_MAX_BYTES"],
            allowed_networks=LOOPBACK_NETWORKS if settings["HTTP_ALLOW_LOOPBACK"] else (),
        )
    )


def _init_geocoder(app: Flask) -> None:
    """Attach the place-name geocoder when one is configured."""
    if app.config["GEOCODER"] != "nominatim":
        return
    from directory.geography.geocoding import nominatim_geocoder

    app.extensions["hyperlocal_geocoder"] = nominatim_geocoder(
        domain=app.config["GEOCODER_DOMAIN"],
        scheme=app.config["GEOCODER_SCHEME"],
        user_agent=app.config["GEOCODER_USER_AGENT"],
        timeout=app.config["GEOCODER_TIMEOUT_SECONDS"],
        min_delay_seconds=app.config["GEOCODER_MIN_DELAY_SECONDS"],
        cache_size=app.config["GEOCODER_CACHE_SIZE"],
    )
