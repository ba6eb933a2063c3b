"""Routes of the PuppetDB-compatible API (mounted at the root of the web process)."""

from django.urls import path, re_path

from api.puppetdb import views as v

Q = "pdb/query/v4"
E = "(?P<entity>{})"

urlpatterns = [
    re_path(r"^pdb/query/v4/?$", v.root, name="pdb-query-root"),
    path(f"{Q}/nodes", v.entity_view("nodes"), name="pdb-nodes"),
    path(f"{Q}/nodes/<str:certname>", v.node_detail, name="pdb-node"),
    path(f"{Q}/nodes/<str:certname>/facts", v.node_facts),
    path(f"{Q}/nodes/<str:certname>/facts/<str:name>", v.node_facts),
    path(f"{Q}/nodes/<str:certname>/facts/<str:name>/<path:value>", v.node_facts),
    path(f"{Q}/nodes/<str:certname>/resources", v.node_resources),
    path(f"{Q}/nodes/<str:certname>/resources/<str:type_>", v.node_resources),
    path(f"{Q}/nodes/<str:certname>/resources/<str:type_>/<path:title>", v.node_resources),
    path(f"{Q}/environments", v.entity_view("environments")),
    path(f"{Q}/environments/<str:name>", v.environment_detail),
    re_path(rf"^{Q}/environments/(?P<name>[^/]+)/{E.format('facts|resources|reports|events')}$", v.environment_sub),
    path(f"{Q}/producers", v.entity_view("producers")),
    path(f"{Q}/producers/<str:name>", v.producer_detail),
    re_path(rf"^{Q}/producers/(?P<name>[^/]+)/{E.format('factsets|catalogs|reports')}$", v.producer_sub),
    path(f"{Q}/factsets", v.entity_view("factsets")),
    path(f"{Q}/factsets/<str:certname>", v.factset_detail),
    path(f"{Q}/factsets/<str:certname>/facts", v.factset_facts),
    path(f"{Q}/facts", v.entity_view("facts")),
    path(f"{Q}/facts/<str:name>", v.facts_by_name),
    path(f"{Q}/facts/<str:name>/<path:value>", v.facts_by_name),
    path(f"{Q}/fact-names", v.entity_view("fact_names")),
    path(f"{Q}/fact-paths", v.entity_view("fact_paths")),
    path(f"{Q}/fact-contents", v.entity_view("fact_contents")),
    path(f"{Q}/inventory", v.entity_view("inventory")),
    path(f"{Q}/catalogs", v.entity_view("catalogs")),
    path(f"{Q}/catalogs/<str:certname>", v.catalog_detail),
    re_path(rf"^{Q}/catalogs/(?P<certname>[^/]+)/{E.format('edges|resources')}$", v.catalog_sub),
    path(f"{Q}/edges", v.entity_view("edges")),
    path(f"{Q}/resources", v.entity_view("resources")),
    path(f"{Q}/resources/<str:type_>", v.resources_by_type),
    path(f"{Q}/resources/<str:type_>/<path:title>", v.resources_by_type),
    path(f"{Q}/reports", v.entity_view("reports")),
    path(f"{Q}/reports/<str:hash_>/events", v.report_events),
    re_path(rf"^{Q}/reports/(?P<hash_>[^/]+)/(?P<part>metrics|logs)$", v.report_document),
    path(f"{Q}/events", v.entity_view("events", allowed=v.EVENT_PARAMS)),
    path(f"{Q}/event-counts", v.event_counts),
    path(f"{Q}/aggregate-event-counts", v.aggregate_event_counts),
    path(f"{Q}/packages", v.entity_view("packages")),
    path(f"{Q}/package-inventory", v.entity_view("package_inventory")),
    path(f"{Q}/package-inventory/<str:certname>", v.package_inventory_for),
    path("pdb/meta/v1/version", v.meta_version),
    path("pdb/meta/v1/version/latest", v.meta_version_latest),
    path("pdb/meta/v1/server-time", v.meta_server_time),
    path("status/v1/services", v.status_services),
    path("status/v1/services/<str:service>", v.status_service),
    path("metrics/v2/list", v.metrics_list),
    re_path(r"^metrics/v2/read/(?P<mbean>.+)$", v.metrics_read),
]
