"""The mails of issue 12's kinds in tests/mail_corpus (forwards, attachments, half-broken
charsets, self-help precision, long subjects, webmail adverts): how each reads.

`READS` gives what a person sees of each (sender, subject, the new text staff read, the
mail it replies to), checked by tests/test_mail_parse.py beside the older corpus;
`TOPICS` the self-help topics of those that ask for one. What becomes of them through
Dovecot and the real reader is tests/test_mail_kinds.py.
"""

from __future__ import annotations

from dataclasses import dataclass

OUR_ID = "<20240603080000.4242.1@petkomm.hu>"


def lines(*parts: str) -> str:
    return "\n".join(parts)


@dataclass(frozen=True)
class Reads:
    """What a person reading the mail sees: sender, subject, the new words (as `Expected`)."""

    from_address: str
    from_name: str
    subject: str
    new_text: str
    in_reply_to: str | None = None


_LONG_WORDS = (
    "Tisztelt Ügyfélszolgálat kérem segítsenek mert a Bem utcai házunkban napok óta nincs "
    "rendes víznyomás a második emeleten a csapból csak csöpög a víz a bojler sem kapcsol be a "
    "szomszédoknál is ugyanez a helyzet már többször telefonáltam de senki nem vette fel "
)
_PASTED = (
    "https://www.petkomm.hu/ugyfelszolgalat/bejelentes?azonosito=U0042&tipus=vizoraleolvasas"
    "&datum=2024-06-11&megjegyzes=" + "nem-enged-tovabb-a-rendszer-" * 12
)
LONG_SUBJECTS = {
    # A customer wrote the whole complaint into the subject (1987 characters).
    "subject_2000_characters.eml": " ".join(_LONG_WORDS.split() * 20)[:2000].rsplit(" ", 1)[0],
    # A web address pasted into the subject: no space to cut at.
    "subject_pasted_address.eml": "Hibás oldal: " + _PASTED,
}

READS: dict[str, Reads] = {
    "attachment_android_gmail_photo_only.eml": Reads(
        "molnar.edit.1975@gmail.com",
        "Molnár Edit",
        "",
        "",
    ),
    "attachment_disguised_program.eml": Reads(
        "ugyintezes.kiss@gmail.com",
        "Kiss Tibor",
        "Számla reklamáció",
        lines(
            "Jó napot! A csatolt számlán hibás az összeg, kérem, nézzék meg.",
            "",
            "Kiss Tibor",
        ),
    ),
    "attachment_freemail_photo.eml": Reads(
        "virag.rozi@freemail.hu",
        "Virág Rozi",
        "kép",
        "",
    ),
    "attachment_iphone_photo_only.eml": Reads(
        "toth.zoltan66@icloud.com",
        "Tóth Zoltán",
        "",
        "",
    ),
    "attachment_outlook_pdf_and_logo.eml": Reads(
        "kardos.gabor@kardosestarsa.hu",
        "Kardos Gábor",
        "Májusi számla - alapdíj kétszer",
        lines(
            "Tisztelt Ügyfélszolgálat!",
            "",
            "Csatolom a májusi számlát, a 3. tételnél kétszer szerepel az alapdíj.",
            "Kérem, javítsák.",
            "",
            "Üdvözlettel:",
            "Kardos Gábor",
            "ügyvezető",
            "Kardos és Társa Kft.",
        ),
    ),
    "attachment_reply_with_photos.eml": Reads(
        "horvath.peter@citromail.hu",
        "Horváth Péter",
        "Re: [#PK-000042] Bejelentését rögzítettük",
        lines(
            "Csatolom a két fotót a mérőaknáról.",
            "",
            "Horváth Péter",
        ),
        OUR_ID,
    ),
    "attachment_refused_program_outlook.eml": Reads(
        "szalai.gyorgy@pelda-epito.hu",
        "Szalai György",
        "Mérőállás rögzítése",
        lines(
            "Tisztelt Ügyfélszolgálat!",
            "",
            "Csatolom a mérőállást rögzítő programot és a mérő fotóját.",
            "",
            "Szalai György",
        ),
    ),
    "attachment_refused_script_gmail.eml": Reads(
        "varga.noemi@gmail.com",
        "Varga Noémi",
        "Számla és a nyújtvány",
        lines("Jó napot!", "", "Mellékelem a számlát és a nyújtványt.", "", "Varga Noémi"),
    ),
    "attachment_refused_reply_thunderbird.eml": Reads(
        "horvath.peter@citromail.hu",
        "Horváth Péter",
        "Re: [#PK-000042] Bejelentését rögzítettük",
        lines(
            "A szerelő kérte, hogy küldjem el a vízóra kiolvasó programját is.",
            "",
            "Horváth Péter",
        ),
        OUR_ID,
    ),
    # Forwards as attachments: the parser reads the customer's own words; the attached
    # mail is added to what staff read by the chain (tests/test_mail_kinds.py).
    "forward_attachment_thunderbird.eml": Reads(
        "olah.erno@freemail.hu",
        "Oláh Ernő",
        "Továbbítás: Gázszámla",
        lines("Csatolom anyósom levelét, kérem, nézzék meg.", "", "Oláh Ernő"),
    ),
    "forward_attachment_gmail.eml": Reads(
        "bakos.reka@gmail.com",
        "Bakos Réka",
        "Fwd: Csőtörés a Radóti utcában",
        "A szomszéd levélét csatolom.",
    ),
    "forward_attachment_outlook.eml": Reads(
        "nagy.zoltan@pelda-kft.hu",
        "Nagy Zoltán",
        "TO: Vízmérő leolvasás - reklamáció",
        lines(
            "Tisztelt PÉTKOMM!",
            "",
            "Mellékelten továbbítom bérlőnk panaszát.",
            "",
            "Üdvözlettel:",
            "Nagy Zoltán",
            "Példa Kft.",
        ),
    ),
    "charset_latin1_declared_outlook.eml": Reads(
        "szabo.erno@t-online.hu",
        "Szabó Ernő",
        "Vízóra leolvasás időben",
        lines(
            "Tisztelt Ügyfélszolgálat!",
            "",
            "A vízóra leolvasását időben jeleztem, mégis becsült számla jött.",
            "Kérem, javítsák ki; a mérőállás 1342 m3.",
            "",
            "Üdvözlettel:",
            "Szabó Ernő",
        ),
    ),
    "charset_windows1252_declared_form.eml": Reads(
        "tutto.ildiko@citromail.hu",
        "Tüttő Ildikó",
        "Panasz a szennyvízdíjról",
        lines(
            "Név: Tüttő Ildikó",
            "Üzenet: A „Szőlő utcai” ház szennyvízdíja hibás, kérem, ellenőrizzék; a fűtés"
            " sem működik.",
        ),
    ),
    "charset_usascii_declared_8bit.eml": Reads(
        "dr.kun.gyula@vipmail.hu",
        "Kun Gyula",
        "Szőnyeg ázott be",
        lines(
            "A csőtörés miatt a szőnyeg beázott, a kár kb. 80 000 Ft.",
            "Kérem, jöjjenek ki felmérni. Tűzoltó is volt itt.",
            "",
            "Kun Gyula",
        ),
    ),
    "charset_subject_cut.eml": Reads(
        "lakatos.iren@vipmail.hu",
        "Lakatos Irén",
        "Szennyvízcsatorna dugulás a Kölcsey utcában – sürg\ufffd",
        lines(
            "A Kölcsey utca 4. előtt a csatornafedél alól feljön a szennyvíz.",
            "Lakatos Irén",
        ),
    ),
    "charset_undeclared_utf8_cut.eml": Reads(
        "fodor.gyulane@gmail.com",
        "Fodor Gyulane",
        "Uzenet a honlaprol",
        lines(
            "Nev: Fodor Gyulane",
            "Cim: Pétfürdő, Hősök tere 2.",
            "Uzenet: A hősök terén a közkút nem ad vizet, kérem, javítsák meg, mert a piacon "
            "sokan használják. Előre is köszönöm: Fodor Gyulán\ufffd",
        ),
    ),
    "charset_utf8_cut_last_character.eml": Reads(
        "szoke.odonne@gmail.com",
        "Szoke Odonne",
        "Bejelentes a weboldalrol",
        "Tisztelt Ügyfélszolgálat! A Petőfi utca 8. szám előtt a járdán napok óta szivárog a "
        "víz, reggelre jégpáncél lesz belőle. Kérem, mielőbb nézzék meg, mert idős szomszédaim "
        "már kétszer elestek. Köszönettel: Szőke Ödönn\ufffd",
    ),
    "charset_utf8_labelled_latin2.eml": Reads(
        "biro.gyozo@indamail.hu",
        "Bíró Győző",
        "Ivókút",
        lines(
            "Tisztelt Ügyfélszolgálat!",
            "",
            "A közterületi ivókút a Szőlőhegyen elromlott, folyamatosan folyik belőle a víz.",
            "",
            "Üdvözlettel: Bíró Győző",
        ),
    ),
    "charset_utf8_qp_cut.eml": Reads(
        "gal.ero@t-online.hu",
        "Gál Erő",
        "Mérőállás",
        "Jó napot! A mai leolvasáskor a mérőóra 04512 m³-t mutatott, a számlán viszont 04821 "
        "szerepel. Kérem, javítsák a következő számlán. Üdvözlettel, Gál Er\ufffd",
    ),
    "charset_utf8_with_latin2_footer.eml": Reads(
        "csonka.reka@ceg-pet.hu",
        "Csonka Réka",
        "Vízóra csere időpontja",
        lines(
            "Jó napot! Holnap reggel 8 és 10 között otthon leszünk, a vízóra cseréje jöhet.",
            "",
            "Csonka Réka",
        ),
    ),
    "charset_windows1250_stray_byte.eml": Reads(
        "nemeth.agnes@tarsashaz.hu",
        "Németh Ágnes",
        "Közös mérő leolvasása",
        lines(
            "Tisztelt PÉTKOMM!",
            "",
            # the stray byte (0x98, undefined in Windows-1250) is the only one replaced
            "A „közös mérő” leolvasását\ufffd kérem május 31-i dátummal rögzíteni, mert a "
            "társasház elszámolása ahhoz igazodik.",
            "",
            "Üdvözlettel:",
            "Németh Ágnes",
            "közös képviselő",
        ),
    ),
    "footer_avast.eml": Reads(
        "barta.imre58@gmail.com",
        "Barta Imre",
        "Vízmérő akna fedele",
        lines(
            "Jó napot! Az udvarunkban lévő vízmérőakna fedele eltört, balesetveszélyes.",
            "",
            "Barta Imre",
        ),
    ),
    "footer_citromail.eml": Reads(
        "hajdu.marta@citromail.hu",
        "Hajdú Márta",
        "Vízszünet a Szent István utcában",
        lines(
            "Tisztelt Cím!",
            "",
            "A Szent István utcában reggel 7 óta nincs víz. Meddig tart a szünet?",
            "",
            "Hajdú Márta",
        ),
    ),
    "footer_freemail.eml": Reads(
        "olah.gyorgy@freemail.hu",
        "Oláh György",
        "Zajos vízcső",
        lines(
            "Jó napot!",
            "",
            "Éjszakánként kopog és zúg a vízcső a falban, amióta a mérőt kicserélték.",
            "Kérem, nézzék meg.",
            "",
            "Oláh György",
        ),
    ),
    "footer_freemail_game.eml": Reads(
        "fodor.erno@freemail.hu",
        "Fodor Ernő",
        "Hiányzó aknafedél",
        lines(
            "Tisztelt PÉTKOMM!",
            "",
            "A Bőrgyár utcai aknafedél megint hiányzik, este nem látni, valaki beleléphet.",
            "Kérem, intézkedjenek.",
            "",
            "Üdvözlettel:",
            "Fodor Ernő",
            "Freemail-es címemre válaszoljanak.",
        ),
    ),
    "footer_indamail_reply.eml": Reads(
        "szekeres.nora@indamail.hu",
        "Szekeres Nóra",
        "Re: [#PK-000042] Bejelentését rögzítettük",
        lines(
            "Köszönöm, délután otthon leszek.",
            "",
            "Szekeres Nóra",
        ),
        OUR_ID,
    ),
    "forward_citromail.eml": Reads(
        "takacsne.ilona@citromail.hu",
        "Takács Jánosné",
        "Továbbítás: ház",
        lines(
            "Kedves Ügyfélszolgálat!",
            "",
            "A fiam levelét küldöm tovább, ő külföldön van és a házat én gondozom.",
            "",
            "Takács Jánosné",
            "",
            "---------- Továbbított levél ----------",
            "Feladó: Takács Dávid <david.takacs@gmx.at>",
            "Dátum: 2024. június 8. 22:14",
            "Tárgy: ház",
            "Címzett: Takács Jánosné <takacsne.ilona@citromail.hu>",
            "",
            "Anya, az online felületen azt látom, hogy május óta 3 köbméter",
            "fogyott a házban, pedig senki nem lakik ott. Szólj nekik, lehet,",
            "hogy csöpög valami.",
            "",
            "Dávid",
        ),
    ),
    "forward_freemail.eml": Reads(
        "papp.ferenc@freemail.hu",
        "Papp Ferenc",
        "Fw: vízmérő",
        lines(
            "Tisztelt Cím!",
            "",
            "Továbbítom a lányom levelét a vízmérő ügyében.",
            "",
            "Papp Ferenc",
            "",
            "-------- Eredeti levél --------",
            "Feladó: Papp Eszter <papp.eszter@gmail.com>",
            "Dátum: 2024 június 9 18:05:33",
            "Tárgy: vízmérő",
            "Címzett: Papp Ferenc <papp.ferenc@freemail.hu>",
            "",
            "Apa, a garázsban lévő vízmérő üvege megrepedt, bepárásodott, nem lehet",
            "leolvasni. Szólnál a vízműnek, hogy cseréljék ki?",
            "",
            "Eszter",
        ),
    ),
    "forward_gmail_en.eml": Reads(
        "fekete.tamas.87@gmail.com",
        "Fekete Tamás",
        "Fwd: Re: víz",
        lines(
            "Hello,",
            "",
            "please see my neighbour's complaint below, she asked me to send it on.",
            "",
            "Best regards,",
            "Tamás Fekete",
            "",
            "---------- Forwarded message ---------",
            "From: Szilágyi Irén <szilagyi.iren@freemail.hu>",
            "Date: Sun, Jun 9, 2024 at 6:58 PM",
            "Subject: Re: víz",
            "To: Tamás Fekete <fekete.tamas.87@gmail.com>",
            "",
            "Tamás, a pincénkben is áll a víz, a mérőakna tele van. Két napja így van,",
            "pedig szóltam a múlt héten is. Kérlek, küldd el nekik, mert nekem nincs",
            "meg a címük.",
            "",
            "Irén",
        ),
    ),
    "forward_gmail_hu.eml": Reads(
        "kovacs.peter1980@gmail.com",
        "Kovács Péter",
        "Fwd: Csőtörés a Kossuth utcában",
        lines(
            "Jó napot!",
            "",
            "Anyósom, Kovács Jánosné levelét továbbítom, ő nem tud e-mailt küldeni.",
            "Kérem, intézkedjenek.",
            "",
            "Kovács Péter",
            "",
            "---------- Továbbított üzenet ---------",
            "Feladó: Kovács Jánosné <kovacs.janosne@gmail.com>",
            "Date: 2024. jún. 10., H 7:42",
            "Subject: Csőtörés a Kossuth utcában",
            "To: Kovács Péter <kovacs.peter1980@gmail.com>",
            "",
            "Péter fiam!",
            "",
            "A Kossuth utca 12. előtt reggel óta folyik a víz az úttestre, és nálunk",
            "alig van nyomás. Légy szíves, szólj a vízműveseknek.",
            "",
            "Anyu",
        ),
    ),
    "forward_iphone_en.eml": Reads(
        "adam.horvath@icloud.com",
        "Horváth Ádám",
        "Fwd: Vízdíj",
        lines(
            "This came from my mother-in-law, please help her.",
            "",
            "Begin forwarded message:",
            "From: Szőke Margit <szoke.margit@freemail.hu>",
            "Date: 9 June 2024 at 21:03:47 CEST",
            "To: Horváth Ádám <adam.horvath@icloud.com>",
            "Subject: Vízdíj",
            "",
            "Ádám, a PÉTKOMM kétszer vonta le a májusi vízdíjat a számlámról.",
            "Megkérnéd őket, hogy utalják vissza?",
            "",
            "Margit mama",
        ),
    ),
    "forward_iphone_hu.eml": Reads(
        "szabo.nora@icloud.com",
        "Szabó Nóra",
        "Fwd: csap",
        lines(
            "Továbbított üzenet kezdete:",
            "Feladó: Szabó Lajos <szabo.lajos52@citromail.hu>",
            "Dátum: 2024. június 9. 19:48:12 CEST",
            "Címzett: Szabó Nóra <szabo.nora@icloud.com>",
            "Tárgy: csap",
            "",
            "Nóra, a konyhai csapból napok óta alig jön víz. A szomszédnál is ez van.",
            "Légyszi írj a PÉTKOMM-nak.",
        ),
    ),
    "forward_outlook_en.eml": Reads(
        "g.bognar@ceg.hu",
        "Bognár Gergely",
        "FW: szamla",
        lines(
            "Please see below.",
            "",
            "Gergely Bognár",
            "",
            "-----Original Message-----",
            "From: Bognár Gergelyné <bognarne.eva@citromail.hu>",
            "Sent: Sunday, June 9, 2024 9:40 PM",
            "To: Gergely Bognár <g.bognar@ceg.hu>",
            "Subject: szamla",
            "",
            "Gergő, megjött a vízszámla, 48 000 Ft, pedig csak ketten lakunk itt.",
            "Biztos elírták a mérőállást. Beküldenéd nekik?",
            "",
            "Évi",
        ),
    ),
    "forward_outlook_hu.eml": Reads(
        "lengyel.katalin@outlook.hu",
        "Lengyel Katalin",
        "TO: vízóra",
        lines(
            "Tisztelt Ügyfélszolgálat!",
            "",
            "Továbbítom édesapám levelét, kérem, a választ nekem küldjék.",
            "",
            "Üdvözlettel:",
            "Lengyel Katalin",
            "",
            "Feladó: Lengyel István <lengyel.istvan47@t-online.hu>",
            "Elküldve: 2024. június 9., vasárnap 20:14",
            "Címzett: Lengyel Katalin <lengyel.katalin@outlook.hu>",
            "Tárgy: vízóra",
            "",
            "Katikám!",
            "",
            "A vízórát múlt héten kicserélték, de az új óra kétszer annyit mutat,",
            "mint a régi. A szerelő azt mondta, szóljak a vízműnek.",
            "",
            "Apu",
        ),
    ),
    "forward_outlook_no_prefix.eml": Reads(
        "pal.zsofia@outlook.com",
        "Pál Zsófia",
        "Barna víz a Rózsa utcában – a szomszédom levele",
        lines(
            "Jó napot kívánok!",
            "",
            "A szomszédom panaszát küldöm, ő is a Rózsa utcában lakik.",
            "",
            "Pál Zsófia",
            "",
            "From: Vass Ernő <vass.erno@gmail.com>",
            "Sent: Sunday, June 9, 2024 7:12 PM",
            "To: Pál Zsófia <pal.zsofia@outlook.com>",
            "Subject: Rózsa utca",
            "",
            "Szia Zsófi!",
            "",
            "Nálunk is napok óta barna a csapvíz, a szűrő is eldugult tőle.",
            "Kérlek, írd meg a vízműnek, nekem nincs e-mail címük.",
            "",
            "Ernő",
        ),
    ),
    "forward_thunderbird_hu.eml": Reads(
        "bence@meszaros.hu",
        "Dr. Mészáros Bence",
        "Továbbítás: Közös vízóra – eltérés",
        lines(
            "Tisztelt PÉTKOMM!",
            "",
            "Az alábbi levelet a társasház közös képviselője küldte, kérem, vizsgálják meg.",
            "",
            "Üdvözlettel:",
            "Dr. Mészáros Bence",
            "",
            "-------- Továbbított üzenet --------",
            "Tárgy: \tKözös vízóra – eltérés",
            "Dátum: \tSun, 9 Jun 2024 17:20:05 +0200",
            "Feladó: \tKözös képviselet <kozoskepviselet@tarsashaz-pet.hu>",
            "Címzett: \tlakok@tarsashaz-pet.hu",
            "",
            "Kedves Lakók!",
            "",
            "A közös vízóra és a lakásórák összege között a májusi leolvasáskor 14 m3 eltérés "
            "volt. Kérjük, aki szivárgást észlel, jelezze.",
            "",
            "Közös képviselet",
        ),
    ),
    "selfhelp_balance_disputed.eml": Reads(
        "dobo.kata@freemail.hu",
        "Dobó Kata",
        "Egyenleg",
        lines(
            "Tisztelt Ügyfélszolgálat!",
            "",
            "Az egyenlegem szerint 40 000 Ft tartozásom van, de ez hibás, mindent befizettem "
            "határidőre.",
            "",
            "Dobó Kata",
        ),
    ),
    "selfhelp_e_invoice.eml": Reads(
        "kovacs.iren@citromail.hu",
        "Kovács Irén",
        "Számlák",
        lines(
            "Kedves PÉTKOMM!",
            "",
            "Kérem, hogy a számláimat ezentúl e-mailben küldjék, ne postán.",
            "",
            "Kovács Irén",
        ),
    ),
    "selfhelp_invoices_to_new_address.eml": Reads(
        "bartok.lili@gmail.com",
        "Bartók Lili",
        "Címváltozás",
        lines(
            "Jó napot!",
            "",
            "Kérem, hogy a számláimat küldjék az új címemre: 8105 Pétfürdő, Ady Endre u. 4.",
            "Ügyfél-azonosítóm: U0021.",
            "",
            "Köszönettel:",
            "Bartók Lili",
        ),
    ),
    "selfhelp_neighbour_moved.eml": Reads(
        "racz.otto@gmail.com",
        "Rácz Ottó",
        "Közös akna",
        lines(
            "Jó napot!",
            "",
            "A szomszéd elköltözött, és azóta folyik a víz a közös aknában, mert senki nem "
            "zárta el a csapját.",
            "Kérem, nézzék meg.",
            "",
            "Rácz Ottó",
        ),
    ),
    "selfhelp_other_address_reply.eml": Reads(
        "juhasz.laszlone@gmail.com",
        "Juhász Lászlóné",
        "Re: [#PK-000042] Bejelentését rögzítettük",
        lines(
            "Jó napot, a férjem helyett írok. Elfelejtettem a jelszót is, és nem tudok belépni.",
            "",
            "Juhász Lászlóné",
        ),
        OUR_ID,
    ),
    "selfhelp_payment_made.eml": Reads(
        "sio.andras@t-online.hu",
        "Sió András",
        "Befizetés",
        lines(
            "Tisztelt Ügyfélszolgálat!",
            "",
            "A tartozásomat tegnap átutaltam (18 450 Ft), kérem, írják jóvá, hogy ne jöjjön "
            "újabb felszólítás.",
            "",
            "Sió András",
        ),
    ),
    "subject_2000_characters.eml": Reads(
        "fazekas.bela.1949@gmail.com",
        "Fazekas Béla",
        LONG_SUBJECTS["subject_2000_characters.eml"],
        "Lásd a tárgyat. Fazekas Béla, Bem utca 7.",
    ),
    "subject_pasted_address.eml": Reads(
        "major.zsofia@outlook.hu",
        "Major Zsófia",
        LONG_SUBJECTS["subject_pasted_address.eml"],
        lines(
            "A fenti címen a bejelentés nem megy tovább, kérem, rögzítsék a mérőállást: 03321.",
            "",
            "Major Zsófia",
        ),
    ),
}

#: The self-help topics of the mails that ask for one; every other mail above asks for none.
TOPICS: dict[str, list[str]] = {
    # "a számláimat küldjék az új címemre": a change of address, not "where are my invoices".
    "selfhelp_invoices_to_new_address.eml": ["personal_data_change"],
    # Asks, but from another address than the ticket owner's: the chain sends nothing.
    "selfhelp_other_address_reply.eml": ["forgotten_password"],
}

#: Every mail of these kinds is a person's (none is a machine's).
CUSTOMER_MAILS = sorted(READS)
