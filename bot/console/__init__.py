"""The web console for coaches, supervisors and admins, and the outcomes dashboard."""
