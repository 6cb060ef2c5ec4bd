"""Deciding, before any model is asked, whether the retrieved passages can answer a question.

Checks, all cheap and explainable:
  * confidence: the best passage's final retrieval score is compared with two thresholds per
    language (cross-language scores are lower). Below `refuse` the question is refused (off by
    default: on the gold set it cost more answerable questions than it caught); below `caution`
    it is answered with a notice that the reports may not answer it directly;
  * answer type: a question asking for a quantity ("多少英镑", "how many countries", "what
    percentage", "what minimum age", "in FLOPs") needs a sentence in the passages that pairs a
    number with what is counted; one asking "how long", "how often" or "when" needs a
    duration, a frequency or a date next to the question's most specific terms;
  * identifiers and years: a question naming one ("ASL-3", "第78/311号决议", "the 2025 summit")
    needs a passage naming it;
  * current office-holders: "现任主席是谁", "who is the current chair of …" needs a sentence naming
    that office, about what is asked, that does not call its holder former ("前任主席");
  * words spoken at an event: "what did X say at the Y summit", "X在Y上说了什么" needs a sentence
    in which X speaks (表示, 指出, 宣布…) at Y or at an event of Y's kind (a summit).
An answer model can still decline later ("the reports do not say").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from assistant.chunking import sentence_spans
from assistant.glossary import Glossary, english_to_chinese
from assistant.language import CJK_CHARS, normalize_for_match
from assistant.lexical import is_stop_word, tokenize
from assistant.types import Lang, Passage

_NUMBER = r"(?:[0-9０-９][0-9０-９.,，]*|[一二两三四五六七八九十百千万亿]+)"
_CJK = re.compile(f"[{CJK_CHARS}]")
_CLASSIFIERS = "个项名位家次年天月届份条款种只票岁吨篇章国起批部"
_COUNTING = "个项名位家届份条款种批部"  # classifiers that count things (not years, tons, "七国集团")
_MONEY_NOUNS = ("资金", "钱", "经费", "预算", "投资", "费用", "拨款")
_CURRENCIES = ("元", "美元", "英镑", "欧元", "日元", "$", "£", "€", "dollar", "pound", "euro")
_ZH_QUANTITY = re.compile(rf"(?<!哪)(?<!举出)(?:多少|几(?![乎十百千万]))([{_CLASSIFIERS}])?([{CJK_CHARS}]{{0,4}})")
_ZH_NOUN_BEFORE = re.compile(rf"([{CJK_CHARS}]{{2}})(?:是|有|为|达|约|共)?(?:多少|几)")

_EN_UNIT_WORDS: dict[str, tuple[str, ...]] = {
    "percentage": ("%", "百分之", "percent"), "percent": ("%", "百分之", "percent"),
    "share": ("%", "百分之", "一半", "半壁", "percent", "half"), "proportion": ("%", "百分之", "percent"),
    "money": _CURRENCIES, "funding": _CURRENCIES, "budget": _CURRENCIES, "pounds": ("英镑", "£", "pound"),
    "dollars": ("美元", "$", "dollar"), "euros": ("欧元", "€", "euro"), "age": ("岁", "years old"),
    "votes": ("票", "vote"), "tons": ("吨", "ton"), "tonnes": ("吨", "tonne"),
    "flop": ("FLOP", "次浮点", "浮点运算"), "flops": ("FLOP", "次浮点", "浮点运算"),
}
_EN_QUANTITY = re.compile(
    r"how (many|much)\s+((?:[a-z][a-z\-]*\s+){0,3})|(?:what|which|as an?) (percentage|share|proportion)"
    r"|(?:what|which)(?: [a-z]+){0,3} (age)\b(?! groups?| discrimination)|how (old)\b"
    r"|\b(?:in|expressed in|measured in) (FLOPs?|tons|tonnes|dollars|euros|pounds)\b",
    re.I)
# Questions asking "how long", "how often" or "when", and what an answer to them must contain
_OFTEN = r"[^，。？?,]{0,8}一次"  # "多久召开一次" asks how often, not how long
_FREQUENCY_QUESTION = re.compile(rf"\bhow often\b|多久{_OFTEN}|多长时间{_OFTEN}|每隔多久|频率", re.I)
_FREQUENCY = re.compile(
    r"每[^，。；,;]{0,4}?(?:年|季度|季|月|周|星期|天|日)|(?:[一二两三四五六七八九十]|\d+)\s*次"
    r"|\b(?:annually|quarterly|monthly|weekly|daily|twice|once|every|biennial|biannual)\b", re.I)
_DURATION_QUESTION = re.compile(
    rf"\bhow long\b|多长时间(?!{_OFTEN})|多久(?!{_OFTEN})|多长的|多少年|多少个月|期限(?:是|为)?多", re.I)
_DURATION = re.compile(
    rf"(?<![0-9０-９])(?!(?:19|20)\d\d)(?:{_NUMBER})\s*(?:个)?(?:年|个月|月|周|星期|天|日|小时)"
    r"|\b\d+\s*(?:years?|months?|weeks?|days?|hours?)\b|半年", re.I)
_DATE_QUESTION = re.compile(r"^\s*when\b|\bon what dates?\b|\bwhat dates?\b|\bin what year\b|\bwhich year\b"
                            r"|什么时候|何时|哪一年|哪年|哪天|哪一天|什么时间", re.I)
_DATE = re.compile(
    r"\b(?:19|20)\d{2}\b|(?:19|20)\d{2}\s*年|\d{1,2}\s*月|[一二三四五六七八九十]+月|今年|去年|明年|上半年|下半年|日前|近日|近期"
    r"|\b(?:January|February|March|April|May|June|July|August|September|October|November|December)\b", re.I)
_TIME_CHECKS = {"duration": (_DURATION_QUESTION, _DURATION), "frequency": (_FREQUENCY_QUESTION, _FREQUENCY),
                "date": (_DATE_QUESTION, _DATE)}
# Identifiers ("ASL-3", "A/74/821", "78/311") and years: a question naming one is about that thing,
# and it is written the same way in every language
_YEAR = re.compile(r"(?<![0-9/])(?:19|20)\d{2}(?![0-9/])")
_IDENTIFIER = re.compile(r"(?<![a-z0-9/])(?:[a-z]+-\d+[a-z]?|(?:[a-z]/)?\d+(?:/\d+)+)(?![a-z0-9/])")
# Questions asking who holds an office now: the office's Chinese names, and what marks a past holder
_OFFICES: dict[str, tuple[str, ...]] = {
    "chair": ("主席", "会长", "理事长"), "chairman": ("主席", "会长", "理事长"), "chairperson": ("主席", "会长"),
    "co-chair": ("联合主席",), "co-chairs": ("联合主席",), "president": ("主席", "会长", "总统", "校长", "院长"),
    "head": ("负责人", "主任", "所长", "院长", "局长", "首长"), "leader": ("负责人", "领导人", "领导", "主任"),
    "director": ("主任", "所长", "院长", "局长", "司长", "总干事"),
    "secretary-general": ("秘书长",), "director-general": ("总干事",), "minister": ("部长",),
    "ceo": ("首席执行官", "总裁"), "secretary": ("部长", "秘书长", "书记"),
}
_OFFICE_OF_VERB = {"chairs": "chair", "leads": "leader", "heads": "head", "directs": "director", "runs": "head"}
_ZH_OFFICES = sorted({n for names in _OFFICES.values() for n in names}
                     | {"总理", "首相", "董事长", "委员长", "行长", "主编", "组长"}, key=len, reverse=True)
_ZH_HOLDER = re.compile(rf"[^，。？?,]{{0,30}}?({'|'.join(_ZH_OFFICES)})(?:是谁|由谁|为谁|是哪位|叫什么|有谁)")
_ZH_NOW = re.compile("现任|目前|当前|如今")
_EN_HOLDER = re.compile(
    r"\bwho (?:is|are|was|were) (?:the |its |their )?(?:two |three )?(current |present |sitting |incumbent )?"
    r"([a-z\-]+(?: [a-z\-]+)??)(?= of\b| at\b| for\b| in\b|\s*\?|$)"
    r"|\bwho (currently |now )?(chairs|leads|heads|directs|runs)\b", re.I)
# Questions asking what someone said at an event, and the sentences in which someone speaks
_EN_SAID_AT = re.compile(
    r"\bwhat did (?P<who>.+?) (?:say|tell|announce|argue|propose|stress|state|declare|call for)\b"
    r".*?\b(?:at|during) (?:the )?(?P<event>[^?]+)", re.I)
_ZH_SAID_AT = re.compile(
    r"(?P<who>[^，。？?、]{2,20}?)在(?P<event>[^，。？?、]{2,30}?)(?:上|期间|中)?(?:的?(?:讲话|发言|致辞|演讲)中?)?"
    r"(?:说|讲|表示|指出|谈|强调|宣布|提出)了?(?:什么|哪些)")
_SPOKE = ("(?:说|讲|表示|指出|强调|认为|呼吁|宣布|提出|谈到|称|发言|致辞|发布|倡议|提议|主张|建议|承诺|介绍|透露|声明"
          "|said|says|stated|announced|argued|stressed|proposed|called)")
_EVENT_HEADS = {"summit": ("峰会",), "conference": ("会议", "大会"), "forum": ("论坛",), "meeting": ("会议",),
                "assembly": ("大会",), "峰会": ("峰会",), "会议": ("会议",), "论坛": ("论坛",), "大会": ("大会",)}
_FORMER = re.compile(r"(?:前任|原任|原|卸任|离任|曾任|former|ex-|past|previous|outgoing)\s*$", re.I)


# Best-passage scores below which an answer carries the weak-evidence notice, measured with
# `python benchmarks/answers.py --calibrate` (evals/gold.jsonl and evals/held_out.jsonl) for the
# default embedder and reranker. Scores of other set-ups are on other scales: they start with
# the notice off until calibrated (settings caution_below_zh / caution_below_en).
CALIBRATED_CAUTION: dict[tuple[str, str], dict[str, float]] = {
    ("multilingual-e5-small-q4", "maxsim"): {"zh": 0.92, "en": 0.86},
}


def caution_thresholds(embedder_id: str, reranker: str, zh: float | None, en: float | None) -> dict[str, float]:
    """The thresholds in force: set ones as they are, unset ones from CALIBRATED_CAUTION when
    this embedder and reranker were calibrated, otherwise 0 (no notice)."""
    model = embedder_id.rsplit("/", 1)[-1]
    calibrated = CALIBRATED_CAUTION.get((model, reranker), {})
    return {"zh": calibrated.get("zh", 0.0) if zh is None else zh,
            "en": calibrated.get("en", 0.0) if en is None else en}


@dataclass(frozen=True)
class Verdict:
    answerable: bool
    reason: str  # "" when answerable; otherwise what was missing, for logs and evaluators
    weak: bool = False  # answerable, but the best passage scores below the caution threshold
    missing: str = ""  # refused: what the passages lack ("identifier", "quantity", "date", …)
    detail: str = ""  # … and which (the identifiers not found)

    def explanation(self, lang: Lang) -> str:
        """Why the question was refused, in one line of the question's language ("" if it was not)."""
        if self.answerable or self.missing not in _EXPLANATIONS:
            return ""
        return _EXPLANATIONS[self.missing][lang].format(detail=self.detail)


_EXPLANATIONS: dict[str, dict[Lang, str]] = {
    "passages": {"zh": "没有可检索的段落。", "en": "There are no passages to search."},
    "score": {"zh": "找到的段落与问题的相关度太低。", "en": "The passages found are too far from the question."},
    "identifier": {"zh": "找到的段落都没有提到“{detail}”。", "en": "None of the passages found mentions “{detail}”."},
    "quantity": {"zh": "找到的段落没有给出所问的数量。", "en": "The passages found give no figure for what is asked."},
    "duration": {"zh": "找到的段落没有给出所问的时长。", "en": "The passages found give no duration for it."},
    "frequency": {"zh": "找到的段落没有给出所问的频率。", "en": "The passages found give no frequency for it."},
    "date": {"zh": "找到的段落没有给出所问的日期或时间。", "en": "The passages found give no date for it."},
    "speech": {"zh": "找到的段落没有记载这次讲话。", "en": "The passages found do not report that speech."},
    "office": {"zh": "找到的段落没有说谁现任“{detail}”。",
               "en": "The passages found do not say who is the current {detail}."},
}


def _sentences(passages: Sequence[Passage]) -> list[str]:
    out: list[str] = []
    for passage in passages:
        text, offset = passage.text, 0
        for line in text.split("\n"):
            out.extend(text[a:b] for a, b in sentence_spans(text, offset, offset + len(line)))
            offset += len(line) + 1
    return out


def _counts(sentence: str) -> Iterator[re.Match[str]]:
    """Numbers that count something: not ordinals ("第六十八届"), and Chinese numerals only
    before a classifier ("七项", "两个"), not inside words ("一些", "统一", "七国集团")."""
    for match in re.finditer(_NUMBER, sentence):
        if sentence[max(0, match.start() - 1): match.start()] == "第":
            continue
        if not match.group(0)[0].isdigit() and not re.match(
                f"[多余]?(?:[{_COUNTING}年天月次岁吨票篇章起元%％]|分之|美元|英镑|欧元)", sentence[match.end():]):
            continue
        yield match


def _has_number_near(sentence: str, words: Sequence[str], window: int = 10) -> bool:
    for match in _counts(sentence):
        after = sentence[match.end(): match.end() + window].lower()
        before = sentence[max(0, match.start() - 3): match.start()].lower()
        if any(w.lower() in after or w.lower() in before for w in words):
            return True
    return False


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ses", "xes", "ches", "shes")):
        return word[:-2]
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


def quantity_target(question: str, lang: Lang) -> tuple[str, tuple[str, ...]] | None:
    """What a quantity question counts: ("classifier", (…)), ("unit", (…)) or ("noun", (…)),
    or None if the question does not ask for a quantity."""
    if lang == "zh":
        match = _ZH_QUANTITY.search(question)
        if not match:
            return None
        classifier, noun = match.group(1), re.split("[的了是在有呢吗]", match.group(2) or "")[0]
        before = _ZH_NOUN_BEFORE.search(question)
        if not noun and before:
            noun = before.group(1)
        if any(noun.startswith(m) or noun.endswith(m) for m in _MONEY_NOUNS) or noun.startswith("钱"):
            return ("unit", _CURRENCIES)
        if classifier:
            return ("classifier", (classifier,))
        return ("noun", (noun[:2],)) if len(noun) >= 1 else ("any", ())
    match = _EN_QUANTITY.search(question)
    if not match:
        return None
    unit = match.group(3) or match.group(6)
    if unit:
        return ("unit", _EN_UNIT_WORDS[unit.lower()])
    if match.group(4):  # "what minimum age"
        return ("unit", _EN_UNIT_WORDS["age"])
    if match.group(5):  # "how old": a person's age, or how long ago something began
        return ("unit", (*_EN_UNIT_WORDS["age"], "年", "years"))
    words = (match.group(2) or "").split()
    for word in words:
        if word.lower() in _EN_UNIT_WORDS:
            return ("unit", _EN_UNIT_WORDS[word.lower()])
    if match.group(1).lower() == "much":
        return ("unit", _CURRENCIES)
    forms: list[str] = []
    dictionary = english_to_chinese()
    glossary = Glossary.default()
    for word in words:
        word = word.lower()
        if is_stop_word(word) or len(word) < 3:
            continue
        singular = _singular(word)
        forms.append(singular)
        forms.extend(zh for _, term in glossary.match_en(singular) for zh in term.zh)
        for key in dict.fromkeys((word, singular)):
            forms.extend(c for c in dictionary.get(key, ())[:4] if len(c) >= 2)
    return ("noun", tuple(dict.fromkeys(f for f in forms if f))) if forms else ("any", ())


def quantity_supported(target: tuple[str, tuple[str, ...]], passages: Sequence[Passage],
                       focus: Sequence[str] = ()) -> bool:
    """Is there a sentence giving the quantity asked for (and, if focus terms are given,
    naming one of them, so that the number is about the right thing)?"""
    kind, forms = target
    # an English question's noun ("how many agencies") is often counted in Chinese with a
    # classifier instead ("七部门", "28个国家")
    counted_in_chinese = kind == "noun" and not any(_CJK.search(f) for f in forms[:1])
    for sentence in _sentences(passages):
        if focus and not _mentions(sentence, focus):
            continue
        if kind == "any" and re.search(_NUMBER, sentence):
            return True
        if kind == "classifier" and re.search(rf"{_NUMBER}\s*多?\s*[{forms[0]}]", sentence):
            return True
        if kind == "unit" and _has_number_near(sentence, forms, window=6):
            return True
        if kind == "noun" and (_has_number_near(sentence, forms) or (
                counted_in_chinese and any(re.match(rf"\s*多?\s*[{_COUNTING}]", sentence[m.end():])
                                          for m in _counts(sentence)))):
            return True
    return False


def _identifier_form(text: str) -> str:
    """Lower case, half-width, one kind of hyphen, no space around hyphens and slashes."""
    text = re.sub("[‐‑–—]", "-", normalize_for_match(text))
    return re.sub(r"\s*([-/])\s*", r"\1", text)


def missing_identifiers(question: str, passages: Sequence[Passage]) -> list[str]:
    """Identifiers and years the question names ("ASL-3", "第78/311号决议", "the 2025 summit")
    that no passage contains."""
    text = _identifier_form(" ".join(p.text for p in passages))
    normalised = _identifier_form(question)
    named = [m.group(0) for m in _IDENTIFIER.finditer(normalised)] + _YEAR.findall(normalised)
    return [_as_written(question, name) for name in dict.fromkeys(named) if name not in text]


def _as_written(question: str, name: str) -> str:
    """`name` (lower case, one kind of hyphen) as the question writes it ("ASL‑3", "ASL - 3")."""
    pattern = "".join(r"\s*[-‐‑–—]\s*" if c == "-" else r"\s*/\s*" if c == "/" else re.escape(c) for c in name)
    match = re.search(pattern, unicodedata.normalize("NFKC", question), re.I)
    return match.group(0) if match else name


def _core(focus: Sequence[str], n: int = 3) -> list[str]:
    """The n most specific focus terms of each language (focus comes rarest first per language)."""
    chinese = [t for t in focus if _CJK.search(t)]
    return chinese[:n] + [t for t in focus if not _CJK.search(t)][:n]


def time_supported(kind: str, passages: Sequence[Passage], focus: Sequence[str]) -> bool:
    """Is there a sentence giving a `kind` ("duration", "frequency", "date") whose own words or the previous
    sentence's name one of the `focus` terms (so that the time is about the right thing)?"""
    pattern = _TIME_CHECKS[kind][1]
    for passage in passages:
        sentences = _sentences([passage])
        for i, sentence in enumerate(sentences):
            if pattern.search(sentence) and (not focus or _mentions(" ".join(sentences[max(0, i - 1): i + 1]), focus)):
                return True
    return False


def asked_office(question: str, lang: Lang) -> tuple[str, tuple[str, ...], bool] | None:
    """The office a question asks the holder of, as the question names it, its Chinese names,
    and whether it asks for the current holder ("现任主席是谁" → ("主席", ("主席",), True); "who
    are the co-chairs of …" → ("co-chairs", ("联合主席",), False)); None for any other question."""
    if lang == "zh":
        match = _ZH_HOLDER.search(question)
        return (match.group(1), (match.group(1),), bool(_ZH_NOW.search(match.group(0)))) if match else None
    match = _EN_HOLDER.search(question)
    if not match:
        return None
    office = (match.group(2) or _OFFICE_OF_VERB.get((match.group(4) or "").lower(), "")).lower()
    names = _OFFICES.get(office) or _OFFICES.get(office.split()[-1] if office else "", ())
    return (office, names, bool(match.group(1) or match.group(3))) if names else None


def current_office(question: str, lang: Lang) -> tuple[str, tuple[str, ...]] | None:
    """The office a question asks the current holder of ("现任主席是谁", "who is the current chair
    of …"), as the question names it, and its Chinese names; None for any other question."""
    office = asked_office(question, lang)
    return office[:2] if office is not None and office[2] else None


def office_holder_named(names: Sequence[str], passages: Sequence[Passage], focus: Sequence[str]) -> bool:
    """Is there a sentence naming the office (one of its `names`), about a `focus` term (in its
    own words, the previous sentence's or its section's: a member list under "…咨询机构成员"),
    that does not call the holder former ("前任主席")?"""
    for passage in passages:
        sentences = _sentences([passage])
        for i, sentence in enumerate(sentences):
            context = " ".join([passage.section, *sentences[max(0, i - 1): i + 1]])
            if focus and not _mentions(context, focus):
                continue
            for name in names:
                if any(not _FORMER.search(sentence[max(0, m.start() - 6): m.start()])
                       for m in re.finditer(re.escape(name), sentence, re.I)):
                    return True
    return False


def speech_at_event(question: str, lang: Lang) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]] | None:
    """For "what did X say at Y" / "X在Y上说了什么": the names of X, the names of Y, and the
    kind of event Y is ("峰会" for a summit); None for other questions or when X or Y has no
    name to look for."""
    match = (_ZH_SAID_AT if lang == "zh" else _EN_SAID_AT).search(question)
    if not match:
        return None
    who, event = match.group("who"), match.group("event")
    glossary = Glossary.default()
    def names(text: str) -> list[str]:
        found = glossary.match_zh(text) if lang == "zh" else glossary.match_en(text)
        forms = [form for _, term in found for form in (*term.zh, *term.en)]
        if lang == "zh":  # the Chinese words themselves ("古特雷斯"), not only glossary terms
            forms += [t for t in tokenize(text) if len(t) >= 2 and not is_stop_word(t)]
        return list(dict.fromkeys(f for f in forms if len(f) >= 2))
    heads = tuple(dict.fromkeys(h for word, forms in _EVENT_HEADS.items() if word in event.lower() for h in forms))
    # the event's own name: "Bletchley Park" of "the Bletchley Park summit" (a glossary entry for
    # "summit" would otherwise bring any summit)
    named = re.sub("|".join(_EVENT_HEADS), " ", event, flags=re.I)
    speakers, events = names(who), names(named)
    if lang == "zh":  # "联合国秘书长古特雷斯": the person is the name or office at the end, not 联合国
        speakers = [n for n in speakers if who.endswith(n) or n in _ZH_OFFICES] or speakers
    if not speakers or not events:
        return None
    return tuple(speakers), tuple(events), heads


def spoken_at(speakers: Sequence[str], events: Sequence[str], heads: Sequence[str],
              passages: Sequence[Passage]) -> bool:
    """Is there a sentence in which a speaker speaks at the event or at an event of its kind
    ("习近平主席在…高峰论坛开幕式主旨演讲中宣布", "此次峰会上，…雷蒙多表示")? The event must be in
    the same sentence: a summit named in the sentence before is often another one."""
    speaking = re.compile(rf"(?:{'|'.join(map(re.escape, speakers))})[^。；;!?！？]{{0,40}}?{_SPOKE}", re.I)
    for sentence in _sentences(passages):
        if speaking.search(normalize_for_match(sentence)) and _mentions(sentence, [*events, *heads]):
            return True
    return False


def _mentions(sentence: str, terms: Sequence[str]) -> bool:
    lowered = normalize_for_match(sentence)
    return any(term.lower() in lowered for term in terms)


class AnswerabilityJudge:
    def __init__(self, min_score: dict[str, float], caution: dict[str, float] | None = None) -> None:
        self.min_score = min_score
        self.caution = caution or {}

    def judge(self, question: str, lang: Lang, passages: Sequence[Passage],
              focus: Sequence[str] = ()) -> Verdict:
        """`focus`: the question's most specific terms (rarest in the corpus, per language); a
        quantity must be given in a sentence that names one of them, a duration or date next to
        one of the three most specific of each language."""
        if not passages:
            return Verdict(False, "no passages", missing="passages")
        threshold = self.min_score.get(lang, 0.0)
        if passages[0].score < threshold:
            return Verdict(False, f"best passage score {passages[0].score:.3f} < {threshold:.3f}", missing="score")
        missing = missing_identifiers(question, passages)
        if missing:
            return Verdict(False, f"no passage names {', '.join(missing)}", missing="identifier",
                           detail="”、“".join(missing) if lang == "zh" else "”, “".join(missing))
        target = quantity_target(question, lang)
        if target is not None and not quantity_supported(target, passages, focus):
            return Verdict(False, f"no sentence gives the quantity asked for ({target[0]}: {'/'.join(target[1][:4])})",
                           missing="quantity")
        core = _core(focus)
        for kind, (asks, _) in _TIME_CHECKS.items():
            if asks.search(question) and not time_supported(kind, passages, core):
                return Verdict(False, f"no sentence about {'/'.join(core)} gives a {kind}", missing=kind)
        office = current_office(question, lang)
        if office is not None:
            asked, names = office
            about = [t for t in core if not any(t in n or n in t for n in (asked, *names))]
            if not office_holder_named(names, passages, about):
                return Verdict(False, f"no sentence about {'/'.join(about)} names a current {asked}",
                               missing="office", detail=asked)
        speech = speech_at_event(question, lang)
        if speech is not None and not spoken_at(*speech, passages):
            return Verdict(False, f"no sentence has {'/'.join(speech[0])} speak at {'/'.join(speech[1])}",
                           missing="speech")
        caution = self.caution.get(lang, 0.0)
        if passages[0].score < caution:
            return Verdict(True, f"best passage score {passages[0].score:.3f} < {caution:.3f}", weak=True)
        return Verdict(True, "")
