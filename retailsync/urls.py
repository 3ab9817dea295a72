from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from inventory import api as inventory_api
from inventory import views as inventory_views
from journals import api as journals_api
from journals import api_export as journals_export
from journals.views import actions as journal_actions
from journals.views import entries as journal_entries
from orders import api as orders_api
from orders import views as orders_views
from returns import api as returns_api
from returns import api_transitions as returns_transitions
from returns import views as returns_views
from settlements import api as settlements_api
from settlements.views import batches as settlement_batches
from settlements.views import lines as settlement_lines
from settlements.views import uploads as settlement_uploads

from . import views
from .core import api, guards, metrics, schema
from .core import views as core_views
from .core import workbench_views as workbench
from .reconciliation import api as reconciliation_api
from .reconciliation import views as reconciliation_views

# Under /api/ every answer is JSON in API.md's error shape, also where no endpoint matched.
handler400 = guards.bad_request
handler403 = guards.permission_denied
handler404 = guards.page_not_found
handler500 = guards.server_error

api_v1 = [
    path("channels/<slug:code>/orders", orders_api.OrderIngestApi.as_view(), name="order-ingest"),
    path(
        "channels/<slug:code>/orders/batch",
        orders_api.OrderBatchIngestApi.as_view(),
        name="order-batch-ingest",
    ),
    path("orders/", orders_api.OrderListApi.as_view(), name="order-list"),
    path("orders/<int:pk>", orders_api.OrderDetailApi.as_view(), name="order-detail"),
    path(
        "orders/<int:pk>/shipments",
        orders_api.OrderShipmentCreateApi.as_view(),
        name="order-shipment-create",
    ),
    path("orders/<int:pk>/cancel", orders_api.OrderCancelApi.as_view(), name="order-cancel"),
    path("inventory/locations", inventory_api.LocationApi.as_view(), name="location-upsert"),
    path("inventory/items", inventory_api.ItemApi.as_view(), name="item-upsert"),
    path("inventory/events", inventory_api.StockEventsApi.as_view(), name="stock-events"),
    path(
        "inventory/events/jobs/<int:pk>",
        inventory_api.EventBatchApi.as_view(),
        name="stock-event-job",
    ),
    path("inventory/positions", inventory_api.PositionListApi.as_view(), name="position-list"),
    path(
        "channels/<slug:code>/allocation",
        inventory_api.AllocationApi.as_view(),
        name="channel-allocation",
    ),
    path(
        "channels/<slug:code>/availability",
        inventory_api.AvailabilityFeedApi.as_view(),
        name="channel-availability",
    ),
    path(
        "channels/<slug:code>/refunds",
        returns_api.ChannelRefundApi.as_view(),
        name="channel-refund",
    ),
    path("returns/", returns_api.ReturnListCreateApi.as_view(), name="return-list"),
    path("returns/<int:pk>", returns_api.ReturnDetailApi.as_view(), name="return-detail"),
    *[
        path(f"returns/<int:pk>/{action}", view.as_view(), name=f"return-{action}")
        for action, view in returns_transitions.TRANSITIONS.items()
    ],
    path("exceptions/", api.ExceptionListApi.as_view(), name="exception-list"),
    path(
        "exceptions/<int:pk>/resolve",
        api.ExceptionCloseApi.as_view(status_to="resolved"),
        name="exception-resolve",
    ),
    path(
        "exceptions/<int:pk>/ignore",
        api.ExceptionCloseApi.as_view(status_to="ignored"),
        name="exception-ignore",
    ),
    path(
        "exceptions/<int:pk>/assign", api.ExceptionAssignApi.as_view(), name="exception-assign-api"
    ),
    path(
        "exceptions/<int:pk>/comments",
        api.ExceptionCommentApi.as_view(),
        name="exception-comment-api",
    ),
    path("trace/<str:correlation_id>", api.TraceApi.as_view(), name="trace"),
    path(
        "reconciliation/",
        reconciliation_api.ReconciliationApi.as_view(),
        name="reconciliation-api",
    ),
    path(
        "settlements/uploads", settlements_api.UploadCreateApi.as_view(), name="settlement-upload"
    ),
    path(
        "settlements/uploads/<int:pk>",
        settlements_api.UploadDetailApi.as_view(),
        name="settlement-upload-detail",
    ),
    path("settlements/batches/", settlements_api.BatchListApi.as_view(), name="batch-list"),
    path(
        "settlements/batches/<int:pk>",
        settlements_api.BatchDetailApi.as_view(),
        name="batch-detail",
    ),
    path(
        "settlements/batches/<int:pk>/lines",
        settlements_api.BatchLinesApi.as_view(),
        name="batch-lines",
    ),
    path(
        "settlements/batches/<int:pk>/match",
        settlements_api.BatchMatchApi.as_view(),
        name="batch-match",
    ),
    path(
        "settlements/batches/<int:pk>/undo",
        settlements_api.BatchUndoApi.as_view(),
        name="batch-undo",
    ),
    *[
        path(
            f"settlements/lines/<int:pk>/{action}",
            settlements_api.LineActionApi.as_view(action=action.replace("-", "_")),
            name=f"line-{action}",
        )
        for action in ("match", "unmatch", "write-off")
    ],
    path("journals/", journals_api.JournalListApi.as_view(), name="journal-list"),
    path("journals/run", journals_api.JournalRunApi.as_view(), name="journal-run"),
    path("journals/export", journals_export.JournalExportApi.as_view(), name="journal-export"),
    path("journals/lines/", journals_api.JournalLinesFedApi.as_view(), name="journal-lines-fed"),
    path("journals/periods/", journals_api.PeriodListApi.as_view(), name="journal-periods"),
    *[
        re_path(
            rf"^journals/periods/(?P<legal_entity>[A-Za-z0-9_.-]{{1,32}})/(?P<period>[0-9]{{4}}-[0-9]{{2}})/{action}$",
            journals_api.PeriodStatusApi.as_view(status_to=status_to),
            name=f"journal-period-{action}",
        )
        for action, status_to in journals_api.STATUS_ACTIONS.items()
    ],
    path("journals/<int:pk>", journals_api.JournalDetailApi.as_view(), name="journal-detail"),
    path(
        "journals/<int:pk>/lines/<int:line>/sources",
        journals_api.JournalLineSourcesApi.as_view(),
        name="journal-line-sources",
    ),
    path(
        "journals/<int:pk>/approve",
        journals_api.JournalApproveApi.as_view(),
        name="journal-approve",
    ),
    path("journals/<int:pk>/post", journals_api.JournalPostApi.as_view(), name="journal-post"),
    path(
        "journals/<int:pk>/reverse",
        journals_api.JournalReverseApi.as_view(),
        name="journal-reverse",
    ),
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file: no inline script to allow.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),
    path("api/redoc/", schema.RedocView.as_view(url_name="schema"), name="redoc"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.home, name="home"),
    path("reconciliation/", reconciliation_views.reconciliation, name="reconciliation"),
    path(
        "reconciliation/<str:figure>/",
        reconciliation_views.drill_down,
        name="reconciliation-records",
    ),
    path("exceptions/", workbench.exception_queue, name="exception-queue"),
    path("exceptions/bulk", workbench.exceptions_bulk, name="exceptions-bulk"),
    path("exceptions/<int:pk>/", workbench.exception_detail, name="exception-page"),
    path("exceptions/<int:pk>/close", workbench.exception_close_form, name="exception-close"),
    path("exceptions/<int:pk>/assign", workbench.exception_assign_form, name="exception-assign"),
    path("exceptions/<int:pk>/comment", workbench.exception_comment_form, name="exception-comment"),
    path("trace/<str:correlation_id>/", core_views.trace_page, name="trace-page"),
    path("orders/", orders_views.order_list, name="order-list-page"),
    path("stock/", inventory_views.stock, name="stock-page"),
    path("stock/ledger/", inventory_views.stock_ledger, name="stock-ledger-page"),
    path("stock/<str:sku>/", inventory_views.item_ledger, name="item-ledger"),
    path("availability/", inventory_views.availability, name="availability-page"),
    path("returns/", returns_views.return_queue, name="return-queue"),
    path("returns/<int:pk>/", returns_views.return_detail, name="return-detail-page"),
    path("returns/<int:pk>/<str:action>", returns_views.return_act, name="return-act"),
    path("orders/<int:pk>/", orders_views.order_detail, name="order-detail-page"),
    path("journals/", journal_entries.entry_list, name="journal-list-page"),
    path("journals/<int:pk>/", journal_entries.entry_detail, name="journal-entry-page"),
    path(
        "journals/<int:pk>/lines/<int:line>/",
        journal_entries.line_sources,
        name="journal-line-page",
    ),
    path("journals/<int:pk>/<str:action>", journal_actions.entry_act, name="journal-entry-act"),
    path("settlements/", settlement_batches.batch_list, name="settlement-list-page"),
    path("settlements/upload/", settlement_uploads.upload_page, name="settlement-upload-page"),
    path(
        "settlements/uploads/<int:pk>/",
        settlement_uploads.upload_status,
        name="settlement-upload-status",
    ),
    path("settlements/<int:pk>/", settlement_batches.batch_detail, name="settlement-batch-page"),
    path(
        "settlements/<int:pk>/match",
        settlement_batches.batch_rematch,
        name="settlement-batch-match",
    ),
    path(
        "settlements/<int:pk>/undo",
        settlement_batches.batch_undo_page,
        name="settlement-batch-undo",
    ),
    path(
        "settlements/lines/<int:pk>/",
        settlement_lines.line_detail,
        name="settlement-line-page",
    ),
    path(
        "settlements/lines/<int:pk>/<str:action>",
        settlement_lines.line_act,
        name="settlement-line-act",
    ),
]
