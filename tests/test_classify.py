"""Police headlines and summaries, and what each is: the table the classification rules answer to.

Written for this test in the style of UK force news pages and social posts; every kind and the
known traps (Court of Appeal, missing animals, court results, recruitment, "wanted" as in
needed, a charge after an appeal) are covered.
"""

from __future__ import annotations

import pytest

from feeds.syndication.classify import classify, parse_rules

CASES: list[tuple[str, str, str | None]] = [
    # --- appeals
    ("CCTV appeal after burglary in Wednesfield", "Officers want to speak to this man.", "appeal"),
    (
        "Appeal for witnesses after collision on Lichfield Road",
        "A cyclist was taken to hospital.",
        "appeal",
    ),
    (
        "Do you recognise this man?",
        "We'd like to speak to him about a theft from a shop in Heath Town.",
        "wanted",  # an image of someone to identify: a wanted notice
    ),
    (
        "Witness appeal following assault in city centre",
        "A man in his 20s suffered a broken jaw.",
        "appeal",
    ),
    (
        "Can you help us identify these men?",
        "They may have information about a break-in at a garage.",
        "wanted",  # an image of someone to identify: a wanted notice
    ),
    (
        "Images released after attempted robbery at convenience store",
        "Call 101 quoting log 1234 of 16 November.",
        "wanted",  # an image of someone to identify: a wanted notice
    ),
    (
        "Appeal after car set alight in Fallowfield",
        "Anyone with dashcam footage is asked to get in touch.",
        "appeal",
    ),
    (
        "Police appeal for information after stabbing",
        "A 19-year-old is in a stable condition.",
        "appeal",
    ),
    ("Did you see this collision?", "It happened at about 5pm on Friday on the A449.", "appeal"),
    (
        "Renewed appeal one year on from hit and run",
        "The family of the victim has backed our appeal.",
        "appeal",
    ),
    (
        "Doorbell footage appeal after parcel thefts",
        "Several parcels were taken from doorsteps in WV11.",
        "appeal",
    ),
    (
        "Appeal to trace owner of stolen jewellery",
        "The items were recovered during a search.",
        "appeal",
    ),
    (
        "Officers investigating damage to bus shelters appeal for help",
        "Shelters were smashed on three nights.",
        "appeal",
    ),
    (
        "Information sought after man exposes himself in park",
        "Anyone with information should call 101.",
        "appeal",
    ),
    (
        "Witnesses sought after serious collision",
        "The road was closed for several hours.",
        "appeal",
    ),
    (
        "Appeal after dog stolen during burglary",
        "The cocker spaniel was taken from a house in Bushbury.",
        "appeal",
    ),
    (
        "Crimestoppers appeal over arson attack on community centre",
        "You can stay 100% anonymous.",
        "appeal",
    ),
    # --- missing people
    ("Missing 14-year-old from Heath Town", "Have you seen Sam? Call 101.", "missing"),
    ("Concern grows for missing man, 47", "He was last seen on Tuesday evening.", "missing"),
    (
        "Have you seen Amira?",
        "The 15-year-old has not been seen since leaving school on Monday.",
        "missing",
    ),
    ("Missing pensioner with dementia", "Officers are concerned for his welfare.", "missing"),
    (
        "We're concerned for the welfare of missing Jack",
        "He may have travelled to Birmingham.",
        "missing",
    ),
    (
        "Help us find missing teenager Chloe",
        "She was last seen in Leicester city centre.",
        "missing",
    ),
    ("Missing woman may be in the Fallowfield area", "She has links to Manchester.", "missing"),
    (
        "Urgent appeal to find missing schoolboy",
        "The 12-year-old left home on his bike.",
        "missing",
    ),
    ("Missing: Daniel, 16", "Daniel has not been seen since Saturday.", "missing"),
    (
        "Police searching for missing man last seen near canal",
        "He is described as white, 5ft 10in.",
        "missing",
    ),
    (
        "Family appeal for missing dad to get in touch",
        "They just want to know he is safe.",
        "missing",
    ),
    # --- wanted
    ("Wanted: man sought over serious assault", "Do not approach him; call 999.", "wanted"),
    ("Wanted man recalled to prison", "He breached the conditions of his licence.", "wanted"),
    ("Have you seen wanted Liam Jones?", "He is wanted for failing to appear at court.", "wanted"),
    (
        "Police hunt for man who skipped bail",
        "He has links to Wolverhampton and Walsall.",
        "wanted",
    ),
    (
        "We're trying to trace this man in connection with a robbery",
        "His whereabouts are unknown.",
        "wanted",
    ),
    ("Wanted on recall: can you help?", "He has absconded from an open prison.", "wanted"),
    ("Manhunt after prisoner escapes", "The public should not approach him.", "wanted"),
    ("Wanted in connection with burglaries in Wednesfield", "Information to 101.", "wanted"),
    (
        "Wanted woman believed to be in the Leicester area",
        "She is wanted for theft offences.",
        "wanted",
    ),
    # --- warnings
    (
        "Warning over courier fraud targeting elderly residents",
        "Fraudsters pose as police officers.",
        "warning",
    ),
    (
        "Be aware of rogue traders in the WV10 area",
        "Never agree to work on your doorstep.",
        "warning",
    ),
    ("Scam alert: fake parcel delivery texts", "Don't click the link.", "warning"),
    (
        "Residents warned after spate of catalytic converter thefts",
        "Park in well-lit areas.",
        "warning",
    ),
    (
        "Road closed: avoid the area after serious collision",
        "Expect delays this afternoon.",
        "warning",
    ),
    (
        "Dispersal order in place in city centre this weekend",
        "It gives officers extra powers.",
        "warning",
    ),
    (
        "Reminder to lock your car this winter",
        "Thieves are trying door handles at night.",
        "warning",
    ),
    (
        "Cold callers offering driveway work",
        "Be vigilant and report anything suspicious.",
        "warning",
    ),
    ("Warning after dangerous dog attacks in park", "Keep children close.", "warning"),
    ("Stay safe this bonfire night", "Our safety advice for fireworks.", "warning"),
    (
        "Phishing emails claiming to be from the force",
        "We will never ask for your bank details.",
        "warning",
    ),
    (
        "Increase in burglaries prompts crime prevention advice",
        "Use timer switches for lights.",
        "warning",
    ),
    (
        "Cordon in place on Stafford Street",
        "Please avoid the area while officers deal with an ongoing incident.",
        "warning",
    ),
    ("Warning after fake banknotes used in shops", "Check for the watermark.", "warning"),
    # --- updates
    ("Man charged following appeal", "Thank you to everyone who shared our appeal.", "update"),
    ("UPDATE: missing 14-year-old found safe", "Thank you for sharing.", "update"),
    ("Missing man found safe and well", "He has returned home.", "update"),
    (
        "Teenager charged after CCTV appeal",
        "He will appear before magistrates on Monday.",
        "update",
    ),
    ("Arrest made after burglary appeal", "A 32-year-old man remains in custody.", "update"),
    ("Wanted man arrested", "Thanks for sharing our appeal.", "update"),
    ("Missing woman has been located", "Our appeal is no longer required.", "update"),
    ("Appeal stood down", "The man we wanted to speak to has been identified.", "update"),
    (
        "Wanted man hands himself in",
        "He handed himself in at Wolverhampton police station.",
        "update",
    ),
    ("Update on collision on Lichfield Road", "The cyclist remains in hospital.", "update"),
    ("Two charged following last week's appeal", "Both are remanded in custody.", "update"),
    ("Chloe has been found", "Thank you to everyone who shared our posts.", "update"),
    ("No longer missing", "Jack has been traced safe.", "update"),
    ("Man we were trying to trace has been arrested", "Thanks for your help.", "update"),
    (
        "Reunited: missing pensioner back with his family",
        "He was found by a member of the public.",
        "update",
    ),
    # --- traps: not appeals, not missing people, not bulletins at all
    (
        "Court of Appeal upholds sentence of Wolverhampton drug dealer",
        "The appeal was dismissed.",
        None,
    ),
    ("Killer loses appeal against conviction", "The Court of Appeal rejected his case.", None),
    ("Burglar jailed for four years", "He targeted homes in Wednesfield.", None),
    ("Man sentenced for dangerous driving", "He was banned from driving for three years.", None),
    ("Drug dealer found guilty after trial", "He will be sentenced next month.", None),
    (
        "Thief pleaded guilty at Wolverhampton Magistrates' Court",
        "He was given a community order.",
        None,
    ),
    ("Join us: PCSO recruitment now open", "Applications close on 30 November.", None),
    ("Become a special constable", "Volunteer a few hours a week with your local team.", None),
    ("We're recruiting call handlers", "Apply now on our careers page.", None),
    ("Volunteers wanted for police cadets scheme", "Help young people in your community.", None),
    (
        "Officers recognised at annual awards ceremony",
        "Sergeant Patel received a commendation.",
        None,
    ),
    (
        "Meet your neighbourhood team at our beat surgery",
        "Come and chat to us at the library.",
        None,
    ),
    ("Missing dog reunited with owner thanks to officers", "Bella had wandered off.", None),
    ("Have you seen this missing cat?", "Tom has been missing from WV11 since Tuesday.", None),
    ("Our team visited Heath Town primary school", "The children asked great questions.", None),
    ("Charity appeal raises £5,000 for hospice", "Officers ran a half marathon.", None),
    ("Chief Constable retires after 30 years", "She joined the force in 1996.", None),
    ("Christmas toy appeal: donations welcome at the station", "Gifts go to local families.", None),
    ("Operation Sceptre: knife arches at stations this week", None, None),
    # --- closure news that repeats the alarm word: never a new alert
    ("Missing man found", "Thank you to everyone who shared our appeal.", "update"),
    ("Missing Jodie traced safe and well", "The 15-year-old was found in Bilston.", "update"),
    ("Man we wanted to identify has come forward", "We'd like to thank the public.", "update"),
    ("Wanted man arrested in Wolverhampton", "Connor, 31, is in custody.", "update"),
    ("Image removed", "The woman in our CCTV appeal has been identified.", "update"),
    ("Body found in search for missing walker", "His family have been informed.", "update"),
    # --- a stolen or lost pet is not a bulletin, however it is put
    ("Have you seen Bella? Spaniel stolen from garden in Bilston", "Call 101.", None),
    ("Stolen French bulldog: can you help?", "The puppy was taken from a car.", None),
    # --- advice that never says warn or advice
    (
        "Lock it or lose it",
        "Thieves are trying car door handles at night in Wednesfield.",
        "warning",
    ),
    ("Don't get caught out by courier fraudsters", "They ask for your bank card.", "warning"),
    (
        "Thefts from vans in Hinckley, Coalville and Loughborough",
        "Officers are urging tradespeople to remove tools overnight.",
        "warning",
    ),
    # --- appeals that never say appeal or witness
    ("Did you see a silver Ford Focus on the A449?", "Anyone who saw it should call us.", "appeal"),
    (
        "Footage sought after car set alight",
        "Anyone with dashcam footage should get in touch.",
        "appeal",
    ),
]

# A few of the titles above stand alone on social posts; give them their empty summary.
CASES = [(title, summary or "", kind) for title, summary, kind in CASES]


def test_the_table_is_big_enough_and_covers_every_kind():
    kinds = {kind for _, _, kind in CASES}
    assert len(CASES) >= 80
    assert kinds == {"appeal", "missing", "wanted", "warning", "update", None}


@pytest.mark.parametrize(("title", "summary", "kind"), CASES, ids=[c[0][:50] for c in CASES])
def test_police_items_are_classified(title, summary, kind):
    result = classify(title, summary)
    assert result.kind == kind, result.reason
    assert result.reason  # always says why


def test_warnings_carry_cap_severity_and_urgency():
    knife = classify(
        "Warning after man seen carrying a knife", "Avoid the area; do not approach him."
    )
    assert (knife.kind, knife.severity, knife.urgency) == ("warning", "Severe", "Immediate")
    scam = classify("Scam warning ahead of Christmas", "Fraudsters are cold calling residents.")
    assert (scam.kind, scam.severity, scam.urgency) == ("warning", "Moderate", "Future")
    road = classify("Road closed after collision", "Expect delays; diversions are in place.")
    assert (road.kind, road.severity) == ("warning", "Minor")
    assert classify("Missing man, 40", "Last seen on Monday.").severity is None


def test_the_reason_names_the_phrases_that_decided():
    result = classify("Man charged following appeal", "")
    assert result.reason.startswith("update: ") and "'charged'" in result.reason
    trap = classify("Court of Appeal upholds sentence", "")
    assert trap.kind is None and "court of appeal" in trap.reason


def test_rules_are_checked_when_loaded():
    with pytest.raises(ValueError, match="rule 2: unknown kind 'apeal'"):
        parse_rules("kind,weight,pattern,note\napeal,3,x,\n")
    with pytest.raises(ValueError, match="rule 2: bad pattern"):
        parse_rules("kind,weight,pattern,note\nappeal,3,(,\n")
    custom = parse_rules("# a comment\nkind,weight,pattern,note\nwarning,5,\\bflood\\b,\n")
    assert classify("Flood on Mill Lane", "", tuple(custom)).kind == "warning"


def test_rules_may_name_a_piece_of_pattern_once():
    rules = parse_rules("kind,weight,pattern,note\ndefine,0,dogs?|cats?,PETS\n"
                        "none,9,\\bstolen %PETS%\\b,\nwarning,5,\\bthefts?\\b,\n")  # fmt: skip
    assert classify("Stolen dog: have you seen Bella?", "", tuple(rules)).kind is None
    assert classify("Thefts of cats", "", tuple(rules)).kind == "warning"
    with pytest.raises(ValueError, match="rule 2: more than 4 fields"):
        parse_rules("kind,weight,pattern,note\nnone,9,dogs?( \\w+){0,2} stolen,a note\n")
    with pytest.raises(ValueError, match="rule 2: %PETS% is not defined above it"):
        parse_rules("kind,weight,pattern,note\nnone,9,%PETS%,\n")
