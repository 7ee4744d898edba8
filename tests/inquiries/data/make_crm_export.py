"""Writes crm_export.csv: a lead file shaped like a real CRM export (run once; the CSV is kept).

Lead numbers as ids, no email, a 0/1 "Converted" column, free-text sources,
country names, categories with values a custom field has not seen, visit
counts, and "Select" where the CRM's drop-down was never touched.
"""

import csv
import random
from pathlib import Path

SOURCES = ["Google", "Direct Traffic", "Olark Chat", "Organic Search", "Reference", "Chat widget"]
COUNTRIES = ["India", "United States", "UK", "Germany", "United Arab Emirates", "Singapore", "DE"]
SPECIALISATIONS = ["Finance Management", "Marketing Management", "IT Projects", "Select", "Peru"]
OCCUPATIONS = ["Unemployed", "Working Professional", "Student", "Select", ""]
ORIGINS = ["Landing Page Submission", "API", "Lead Add Form", "Lead Import"]


def rows(n: int, seed: int = 24):
    rng = random.Random(seed)
    for i in range(n):
        occupation = rng.choice(OCCUPATIONS)
        visits = rng.choice([0, 0, 1, 2, 3, 4, 5, 7, 9, 12, 20])
        minutes = rng.randint(0, 2000) if visits else 0
        source = rng.choice(SOURCES)
        p = 0.15 + (0.45 if occupation == "Working Professional" else 0)
        p += 0.2 if source == "Reference" else 0
        p += 0.15 if 3 <= visits <= 9 else 0
        p += 0.15 if minutes > 1000 else 0
        yield {
            "Lead Number": str(660000 + i * 7),
            "Lead Origin": rng.choice(ORIGINS),
            "Lead Source": source,
            "Do Not Email": rng.choice(["No", "No", "No", "Yes"]),
            "Converted": "1" if rng.random() < min(p, 0.95) else "0",
            "TotalVisits": str(visits),
            "Total Time Spent on Website": str(minutes),
            "Country": rng.choice(COUNTRIES) if rng.random() > 0.2 else "",
            "Specialization": rng.choice(SPECIALISATIONS),
            "What is your current occupation": occupation,
            "City": rng.choice(["Mumbai", "Thane & Outskirts", "Other Cities", "Select"]),
        }


if __name__ == "__main__":
    out = Path(__file__).with_name("crm_export.csv")
    data = list(rows(400))
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(data[0]))
        writer.writeheader()
        writer.writerows(data)
