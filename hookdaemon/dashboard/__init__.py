"""
The web dashboard under C{/ui/} (C{dashboard = yes}): the hooks, their jobs and
each job's output, served by the daemon itself from plain HTML and CSS.

    session  the sign-in cookie and the CSRF token (plain values)
    pages    the HTML of each page, from the job API's JSON (plain values)
    app      the Klein routes, guarded as the job API is
"""
