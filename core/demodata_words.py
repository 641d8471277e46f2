"""Word lists for the demo-data generator (`core.demodata`).

Hungarian names, towns around Pétfürdő with their postcodes and streets, firm
name patterns and booking descriptions. Kept apart from the generator so the
wording can be reviewed without reading the code. Every list is a tuple: the
generator picks by index, so the order here is part of the deterministic output.
"""

from __future__ import annotations

FAMILY_NAMES: tuple[str, ...] = (
    "Nagy", "Kovács", "Tóth", "Szabó", "Horváth", "Varga", "Kiss", "Molnár",
    "Németh", "Farkas", "Balogh", "Papp", "Takács", "Juhász", "Lakatos", "Mészáros",
    "Oláh", "Simon", "Rácz", "Fekete", "Szilágyi", "Török", "Fehér", "Balázs",
    "Gál", "Kis", "Szűcs", "Kocsis", "Pintér", "Fodor", "Szalai", "Sipos",
    "Magyar", "Lukács", "Gulyás", "Bíró", "Király", "László", "Katona", "Jakab",
    "Sándor", "Boros", "Fazekas", "Kelemen", "Antal", "Orosz", "Somogyi", "Fülöp",
    "Veres", "Budai", "Vincze", "Hegedűs", "Deák", "Bálint", "Illés", "Pál",
    "Vass", "Szőke", "Fábián", "Vörös", "Lengyel", "Bognár", "Jónás", "Hajdú",
    "Halász", "Máté", "Székely", "Gáspár", "Kozma", "Pásztor", "Bakos", "Dudás",
    "Major", "Virág", "Orbán", "Hegyi", "Barna", "Novák", "Soós", "Tamás",
    "Nemes", "Pataki", "Faragó", "Kerekes", "Borbély", "Barta", "Szekeres", "Csizmadia",
    "Mátyás", "Csonka", "Érsek", "Ördög", "Újvári", "Őri", "Üveges", "Ökrös",
    "Győri", "Bárány", "Cseh", "Vida",
)  # fmt: skip

MALE_GIVEN_NAMES: tuple[str, ...] = (
    "István", "László", "József", "János", "Zoltán", "Sándor", "Gábor", "Ferenc",
    "Attila", "Péter", "Tamás", "Zsolt", "Imre", "Béla", "Mihály", "Tibor",
    "Csaba", "András", "Lajos", "György", "Ödön", "Győző", "Előd", "Ábel",
    "Ádám", "Bálint", "Dénes", "Gergő", "Levente", "Márk", "Máté", "Bence",
    "Lőrinc", "Kristóf", "Ottó", "Örs", "Barnabás", "Dániel", "Károly", "Jenő",
)  # fmt: skip

FEMALE_GIVEN_NAMES: tuple[str, ...] = (
    "Mária", "Erzsébet", "Katalin", "Éva", "Ilona", "Anna", "Zsuzsanna", "Margit",
    "Judit", "Ágnes", "Andrea", "Erika", "Krisztina", "Márta", "Edit", "Ildikó",
    "Gabriella", "Anikó", "Tímea", "Zsófia", "Júlia", "Réka", "Boglárka", "Dóra",
    "Enikő", "Piroska", "Irén", "Tünde", "Gyöngyi", "Orsolya", "Hajnalka", "Nóra",
    "Lili", "Viktória", "Etelka", "Rózsa", "Emőke", "Csilla", "Melinda", "Szilvia",
)  # fmt: skip

# (postcode, town, relative weight, streets). Pétfürdő is the utility's home,
# so most customers live there; Peremarton(-gyártelep) belongs to Berhida.
TOWNS: tuple[tuple[str, str, int, tuple[str, ...]], ...] = (
    ("8105", "Pétfürdő", 40, (
        "Ady Endre u.", "Berhidai út", "Hősök tere", "Kossuth Lajos u.",
        "Petőfi Sándor u.", "Szabadság tér", "Jókai Mór u.", "Gárdonyi Géza u.",
        "Liget u.", "Munkácsy Mihály u.", "Mátyás király u.", "Rákóczi Ferenc u.",
        "Szent István u.", "Táncsics Mihály u.", "Fürdő u.", "Deák Ferenc u.",
        "Kazinczy Ferenc u.", "Bem József u.", "Dózsa György u.", "Vörösmarty Mihály u.",
        "Radnóti Miklós u.", "Zrínyi Miklós u.", "Erkel Ferenc u.", "Bartók Béla u.",
        "Őszirózsa u.", "Ibolya u.", "Várpalotai út",
    )),
    ("8100", "Várpalota", 20, (
        "Szent István út", "Bartók Béla u.", "Thury György tér", "Árpád u.",
        "Rákóczi Ferenc u.", "Fehérvári u.", "Jókai Mór u.", "Loncsosi u.",
        "Gárdonyi Géza u.", "Szabolcska Mihály u.", "Honvéd u.", "Újlaki út",
        "Posta u.", "Petőfi Sándor u.", "Gépész u.", "Mártírok u.",
    )),
    ("8181", "Berhida", 10, (
        "Veszprémi út", "Kossuth Lajos u.", "Ady Endre u.", "Bajcsy-Zsilinszky u.",
        "Petőfi Sándor u.", "Munkácsy Mihály u.", "Arany János u.", "Rákóczi u.",
        "Szabadság tér", "Kiss János u.",
    )),
    ("8182", "Peremarton", 3, (
        "Berhidai út", "Liget u.", "Vasút u.", "Jókai Mór u.", "Béke u.", "Iskola u.",
    )),
    ("8192", "Hajmáskér", 6, (
        "Kossuth Lajos u.", "Ady Endre u.", "Petőfi Sándor u.", "Rákóczi u.",
        "Vasút u.", "Fő u.", "Tábor u.", "Jókai u.",
    )),
    ("8191", "Öskü", 5, (
        "Kossuth Lajos u.", "Rákóczi u.", "Szabadság tér", "Petőfi Sándor u.",
        "Fő u.", "Dózsa György u.", "Ady Endre u.",
    )),
    ("8183", "Papkeszi", 4, (
        "Fő u.", "Petőfi Sándor u.", "Kossuth Lajos u.", "Hősök tere", "Rákóczi u.",
        "Jókai u.",
    )),
    ("8200", "Veszprém", 7, (
        "Kossuth Lajos u.", "Óváros tér", "Szabadság tér", "Budapest út", "Jutasi út",
        "Cholnoky Jenő u.", "Egry József u.", "Haszkovó u.", "Március 15. u.",
        "Kádártai út", "Pápai út", "Stadion u.", "Ady Endre u.", "Bajcsy-Zsilinszky u.",
    )),
    ("8184", "Balatonfűzfő", 5, (
        "Nike krt.", "Fűzfői u.", "Ady Endre u.", "Irinyi János u.", "Balaton krt.",
        "Munkás u.", "Árpád u.", "Gagarin u.",
    )),
)  # fmt: skip

# Towns with blocks of flats: an address there often has "floor/door".
TOWNS_WITH_FLATS: tuple[str, ...] = ("Pétfürdő", "Várpalota", "Veszprém", "Balatonfűzfő")

# Firm name patterns; {family} and {family2} are family names.
FIRM_PATTERNS: tuple[str, ...] = (
    "{family}-Ker Kft.",
    "{family} és Fia Bt.",
    "{family}-Építő Kft.",
    "{family} Autószerviz Bt.",
    "{family} & {family2} Kft.",
    "{family} Pékség Kft.",
    "{family}-Agro Bt.",
    "{family} Fodrászat Bt.",
    "{family} Vendéglő Kft.",
    "{family}-Trans Kft.",
)

# Customers that every data set holds (when it is big enough), at these
# positions (0-based), so the awkward cases are always there to test against.
FIRM_LESS_THAN = "Kis<Nagy> Bt."
FIRM_AMPERSAND = "Nagy & Társa Kft."
FIRM_HYPHEN = "Pét-Kert Bt."
PERSON_ACCENTED = ("Szabó-Nagy", "Ödön")
LONG_ADDRESS = (
    "8105 Pétfürdő, Berhidai út 1., Ipari Park, 3. számú üzemcsarnok, "
    "a porta mellett balra, II. emelet 214-es iroda (csak munkanapokon 8 és 16 óra "
    "között; a leveleket és a számlákat a portán kell leadni Nagy Béla gondnok "
    "nevére, aki átveszi és továbbítja a könyvelésnek)"
)

MONTH_NAMES: tuple[str, ...] = (
    "január", "február", "március", "április", "május", "június",
    "július", "augusztus", "szeptember", "október", "november", "december",
)  # fmt: skip

PAYMENT_METHODS: tuple[str, str, str] = ("csekk", "átutalás", "csoportos beszedés")

# Booking kinds, the Hungarian words of the contract.
KIND_CHARGE = "terhelés"
KIND_PAYMENT = "befizetés"
KIND_ADJUSTMENT = "helyesbítés"

# Payment description by the way it was paid (indexed like PAYMENT_METHODS).
PAYMENT_DESCRIPTIONS: tuple[str, str, str] = (
    "Csekkes befizetés",
    "Banki átutalás",
    "Csoportos beszedés",
)

CHARGE_DESCRIPTION = "Havi közüzemi számla, {year}. {month}"

ADJUSTMENT_DESCRIPTIONS: tuple[str, ...] = (
    "Mérőállás-korrekció",
    "Kerekítési különbözet",
    "Pótdíj késedelmes fizetés miatt",
    "Késedelmi kamat",
    "Díjkorrekció hatósági árváltozás miatt",
)

EMAIL_DOMAINS: tuple[str, ...] = ("example.hu", "example.com", "example.net", "example.org")
