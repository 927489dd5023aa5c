"""Nickname groups: every spelling maps to the group's formal name, so Bob meets Robert."""

from __future__ import annotations

from functools import cache

NICKNAME_GROUPS: dict[str, tuple[str, ...]] = {
    "robert": ("bob", "bobby", "rob", "robbie", "bert"),
    "william": ("bill", "billy", "will", "willy", "liam"),
    "elizabeth": ("liz", "lizzie", "beth", "betty", "eliza", "lisa", "libby", "elisabeth"),
    "katherine": ("kate", "katie", "kathy", "kat", "catherine", "kathryn", "cathy", "kay"),
    "michael": ("mike", "mikey", "mick", "mickey"),
    "james": ("jim", "jimmy", "jamie", "jimbo"),
    "john": ("jack", "johnny", "jon"),
    "jonathan": ("jon", "jonny", "nathan"),
    "richard": ("rick", "ricky", "rich", "richie", "dick"),
    "thomas": ("tom", "tommy"),
    "charles": ("charlie", "chuck", "chas"),
    "christopher": ("chris", "kit", "topher"),
    "daniel": ("dan", "danny"),
    "matthew": ("matt", "matty"),
    "anthony": ("tony", "ant"),
    "joseph": ("joe", "joey", "jo"),
    "david": ("dave", "davey"),
    "steven": ("steve", "stevie", "stephen"),
    "edward": ("ed", "eddie", "ted", "teddy", "ned"),
    "andrew": ("andy", "drew"),
    "benjamin": ("ben", "benny", "benji"),
    "samuel": ("sam", "sammy"),
    "alexander": ("alex", "al", "sasha", "xander"),
    "nicholas": ("nick", "nicky", "nico"),
    "timothy": ("tim", "timmy"),
    "patrick": ("pat", "paddy"),
    "gregory": ("greg",),
    "jeffrey": ("jeff", "geoff", "geoffrey"),
    "kenneth": ("ken", "kenny"),
    "ronald": ("ron", "ronnie"),
    "donald": ("don", "donnie"),
    "raymond": ("ray",),
    "lawrence": ("larry", "laurence"),
    "peter": ("pete",),
    "frederick": ("fred", "freddie", "fritz"),
    "henry": ("harry", "hank", "hal"),
    "zachary": ("zach", "zack"),
    "joshua": ("josh",),
    "nathaniel": ("nate", "nat"),
    "phillip": ("phil", "philip"),
    "jennifer": ("jen", "jenny", "jenn"),
    "margaret": ("maggie", "meg", "peggy", "marge", "greta"),
    "patricia": ("pat", "patty", "trish", "tricia"),
    "susan": ("sue", "susie", "suzanne"),
    "deborah": ("deb", "debbie", "debra"),
    "rebecca": ("becky", "becca"),
    "jessica": ("jess", "jessie"),
    "victoria": ("vicky", "tori", "vic"),
    "christine": ("chris", "chrissy", "christina", "kristina", "tina"),
    "alexandra": ("alex", "alexa", "sandra", "sasha"),
    "samantha": ("sam", "sammie"),
    "abigail": ("abby", "gail"),
    "barbara": ("barb", "barbie"),
    "dorothy": ("dot", "dottie"),
    "jacqueline": ("jackie",),
    "kimberly": ("kim",),
    "pamela": ("pam",),
    "stephanie": ("steph",),
    "theresa": ("terry", "tess", "tessa", "teresa"),
    "amanda": ("mandy",),
    "cynthia": ("cindy",),
    "judith": ("judy",),
    "eleanor": ("ellie", "nell", "nora"),
    "johannes": ("hans", "jan"),
    "wolfgang": ("wolf",),
    "francois": ("francis", "frank"),
    "francesco": ("franco", "cesco"),
    "giuseppe": ("beppe", "peppe", "pino"),
    "jose": ("pepe",),
    "francisco": ("paco", "pancho", "cisco"),
}


@cache
def nickname_lookup() -> dict[str, str]:
    """spelling -> formal name; a spelling in two groups keeps the first group seen."""
    lookup: dict[str, str] = {}
    for formal, variants in NICKNAME_GROUPS.items():
        lookup.setdefault(formal, formal)
        for v in variants:
            lookup.setdefault(v, formal)
    return lookup
