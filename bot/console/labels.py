"""Words the console pages show from data (roles, statuses), marked for the catalog."""

from bot.i18n import N_

ROLES = (N_("coach"), N_("supervisor"), N_("admin"))
STATUSES = (
    N_("requested"),
    N_("offered"),
    N_("accepted"),
    N_("connected"),
    N_("completed"),
    N_("no_answer"),
    N_("declined"),
    N_("cancelled"),
    N_("active"),
    N_("stopped"),
)
