"""Renderings: report.json as text, Markdown and HTML, the pool report, printed pages.

``rendering`` picks a format; ``text`` writes terminal text and Markdown (and the number
formats every rendering shares); ``page`` and its view models ``view`` write the
self-contained HTML report; ``plots`` draws inline SVG; ``pool`` renders a pooled report;
``sheet`` writes the preparation sheet and the participant's calendar page; ``templates/``
holds the Jinja templates and CSS.  Nothing here computes a statistic: it shows the stored
numbers.

May import: :mod:`blindself.analysis`, :mod:`blindself.trial`, :mod:`blindself.protocol`,
:mod:`blindself.errors`; jinja2 and matplotlib only inside functions.
"""
