"""The starting lead definition, taken from the source articles.

Points go to who the person is (title, company size, vertical, geography),
what they did (activities), their interest and their buying timeline — and
deliberately none to budget, authority or readiness to buy: asking those
before a compelling reason to buy is found turns good inquiries bad.
"""

TEMPLATE_NAME = "Starting definition (from the articles)"
TEMPLATE_THRESHOLD = 60

TEMPLATE_FIT_RULES = [
    {
        "field": "title",
        "op": "contains",
        "value": "director",
        "points": 15,
        "label": "Title: director",
    },
    {"field": "title", "op": "contains", "value": "vp", "points": 20, "label": "Title: VP"},
    {"field": "title", "op": "contains", "value": "chief", "points": 20, "label": "Title: C-level"},
    {
        "field": "title",
        "op": "contains",
        "value": "manager",
        "points": 10,
        "label": "Title: manager",
    },
    {
        "field": "company_size",
        "op": "range",
        "value": [50, 5000],
        "points": 15,
        "label": "Company size 50–5,000",
    },
    {
        "field": "industry",
        "op": "in",
        "value": ["manufacturing", "logistics", "healthcare"],
        "points": 10,
        "label": "Target vertical",
    },
    {
        "field": "country",
        "op": "in",
        "value": ["US", "CA", "GB", "DE"],
        "points": 5,
        "label": "Target geography",
    },
    {
        "field": "interest",
        "op": "contains",
        "value": "demo",
        "points": 10,
        "label": "Interest: asked for a demo",
    },
    {
        "field": "timeline",
        "op": "in",
        "value": ["now", "0-3m"],
        "points": 15,
        "label": "Timeline: within 3 months",
    },
    {
        "field": "timeline",
        "op": "equals",
        "value": "3-6m",
        "points": 8,
        "label": "Timeline: 3–6 months",
    },
]

TEMPLATE_ENGAGEMENT_RULES = [
    {"activity": "form_fill", "points": 10, "cap": 20, "half_life_days": 30, "label": "Form fills"},
    {"activity": "download", "points": 5, "cap": 15, "half_life_days": 30, "label": "Downloads"},
    {"activity": "webinar", "points": 10, "cap": 20, "half_life_days": 45, "label": "Webinars"},
    {
        "activity": "event_card",
        "points": 8,
        "cap": 16,
        "half_life_days": 60,
        "label": "Event cards",
    },
    {
        "activity": "email_click",
        "points": 2,
        "cap": 10,
        "half_life_days": 14,
        "label": "Email clicks",
    },
    {
        "activity": "email_reply",
        "points": 5,
        "cap": 10,
        "half_life_days": 30,
        "label": "Email replies",
    },
    {"activity": "page_visit", "points": 1, "cap": 10, "half_life_days": 7, "label": "Page visits"},
    {
        "activity": "partner_referral",
        "points": 15,
        "cap": 15,
        "half_life_days": 90,
        "label": "Partner referral",
    },
    {"activity": "chat", "points": 5, "cap": 10, "half_life_days": 14, "label": "Chats"},
]
