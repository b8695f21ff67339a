"""The built-in crisis triage config (English, Thai, Lao): used with no playbook and by the eval.

Phrases are matched as whole words in Latin script and as substrings in Thai and Lao, which are
written without spaces between words. Keep them specific: a phrase that fires on chatter costs
an urgent queue its focus.
"""

from __future__ import annotations

from crisiscast.incidents.intake.triage.config import (
    CategoryRule,
    Question,
    SignalRule,
    Subcategory,
    TriageConfig,
)

IMPACT = ("extensive", "significant", "moderate", "minor")
URGENCY = ("critical", "high", "medium", "low")
MATRIX = {
    "extensive": {"critical": "urgent", "high": "urgent", "medium": "high", "low": "medium"},
    "significant": {"critical": "urgent", "high": "high", "medium": "high", "low": "medium"},
    "moderate": {"critical": "high", "high": "medium", "medium": "medium", "low": "low"},
    "minor": {"critical": "medium", "high": "medium", "medium": "low", "low": "low"},
}


def _phrases(**by_language: str) -> dict[str, tuple[str, ...]]:
    """Phrases per language, each written as one "|"-separated string to keep the tables short."""
    return {lang: tuple(text.split("|")) for lang, text in by_language.items()}


_DANGER = _phrases(
    en=(
        "trapped|stuck under|buried|under the rubble|injured|injuries|wounded|bleeding"
        "|unconscious|not breathing|heart attack|drowning|drowned|swept away|dead|died"
        "|dying|death|deaths|killed|bodies|corpses|missing|search and rescue|rescue us"
        "|kidnapped|shooting|gunfire|violence|raped|on fire|gas leak|electrocuted|save us"
        "|save me|crushed|under the debris|looting|looters|armed men|gunmen|going to die"
    ),
    th=(
        "ติดอยู่|ติดค้าง|บาดเจ็บ|เลือดออก|หมดสติ|ไม่หายใจ|จมน้ำ|ถูกน้ำพัด|เสียชีวิต|ตาย"
        "|ศพ|สูญหาย|หายตัว|ช่วยด้วย|ไฟไหม้|ถูกทำร้าย"
    ),
    lo=("ຕິດຢູ່|ບາດເຈັບ|ເລືອດອອກ|ສະຫຼົບ|ບໍ່ຫາຍໃຈ|ຈົມນ້ຳ|ຖືກນ້ຳພັດ|ເສຍຊີວິດ|ຕາຍ|ສູນຫາຍ|ຊ່ວຍແດ່|ໄຟໄໝ້"),
)
_VULNERABLE = _phrases(
    en=(
        "baby|babies|infant|newborn|elderly|pregnant|disabled|wheelchair|bedridden"
        "|orphan|orphans|alone child"
    ),
    th="ทารก|เด็กเล็ก|ผู้สูงอายุ|คนชรา|ตั้งครรภ์|คนพิการ|ติดเตียง",
    lo="ເດັກນ້ອຍ|ຜູ້ສູງອາຍຸ|ຖືພາ|ຄົນພິການ|ນອນຕິດຕຽງ",
)
_MEDICAL = _phrases(
    en=(
        "doctor|doctors|medicine|medicines|medication|medical|insulin|sick|fever"
        "|cholera|diarrhea|infection|give birth|nurse"
    ),
    th="หมอ|ยารักษา|ไม่มียา|ป่วย|ไข้|ท้องเสีย|คลอด",
    lo="ທ່ານໝໍ|ບໍ່ມີຢາ|ເຈັບປ່ວຍ|ໄຂ້|ຖອກທ້ອງ|ເກີດລູກ",
)
_NEEDS = _phrases(
    en=(
        "no water|no food|hungry|starving|thirsty|need water|need food|need shelter"
        "|no shelter|homeless|tent|tents|nowhere to sleep|nothing to eat|drinking water"
    ),
    th="ไม่มีน้ำดื่ม|ไม่มีอาหาร|หิว|ไม่มีที่อยู่|ไม่มีที่พัก|ไม่มีที่นอน",
    lo="ບໍ່ມີນ້ຳດື່ມ|ບໍ່ມີອາຫານ|ຫິວ|ບໍ່ມີບ່ອນພັກ|ບໍ່ມີບ່ອນຢູ່",
)
_FACILITY = _phrases(
    en=(
        "hospital|hospitals|hospital's|clinic|icu|emergency room|ambulance|dialysis"
        "|life support|oxygen|power plant|water supply|dam"
    ),
    th="โรงพยาบาล|คลินิก|รถพยาบาล|ห้องฉุกเฉิน|ออกซิเจน|ฟอกไต|เขื่อน",
    lo="ໂຮງໝໍ|ຄລີນິກ|ລົດໂຮງໝໍ|ຫ້ອງສຸກເສີນ|ອົກຊີເຈນ|ເຂື່ອນ",
)
_SERVICE_DOWN = _phrases(
    en=(
        "is down|are down|went down|outage|not working|offline|can't log in"
        "|cannot log in|can't access|cannot access|no power|power cut|blackout"
        "|no electricity|no network|no signal|crashed"
    ),
    th="ระบบล่ม|ล่ม|ใช้งานไม่ได้|ไฟดับ|เข้าสู่ระบบไม่ได้|ไม่มีสัญญาณ",
    lo="ລະບົບລົ້ມ|ໃຊ້ບໍ່ໄດ້|ໄຟຟ້າດັບ|ເຂົ້າລະບົບບໍ່ໄດ້|ບໍ່ມີສັນຍານ",
)
_TIME = _phrases(
    en=(
        "right now|immediately|asap|urgent|urgently|emergency|hurry|running out"
        "|rising fast|within the hour|tonight|sos|as soon as possible"
    ),
    th="ด่วน|ทันที|เดี๋ยวนี้|ฉุกเฉิน|ใกล้หมด|คืนนี้",
    lo="ດ່ວນ|ທັນທີ|ດຽວນີ້|ສຸກເສີນ|ໃກ້ໝົດ|ຄືນນີ້",
)
_MONEY = _phrases(
    en=(
        "lost everything|lost my job|can't pay|cannot pay|no money|savings|bankrupt"
        "|payroll|refund|charged twice|double charged|lost my crops|livestock"
    ),
    th="ขาดรายได้|ไม่มีเงิน|สูญเสียทุกอย่าง|พืชผลเสียหาย|ถูกหักเงินซ้ำ",
    lo="ບໍ່ມີເງິນ|ສູນເສຍທຸກຢ່າງ|ພືດຜົນເສຍຫາຍ|ຂາດລາຍໄດ້",
)
_DAMAGE = _phrases(
    en=("collapsed|destroyed|damaged|flooded|landslide|road blocked|roads blocked|bridge|roof"),
    th="พังถล่ม|บ้านพัง|เสียหาย|น้ำท่วม|ดินถล่ม|ถนนขาด",
    lo="ເຮືອນພັງ|ເສຍຫາຍ|ນ້ຳຖ້ວມ|ດິນເຈື່ອນ|ຖະໜົນຂາດ",
)
_HAZARD = _phrases(
    en=(
        "flood|floods|flooding|storm|hurricane|cyclone|typhoon|earthquake|aftershock"
        "|aftershocks|tsunami|heavy rain|rising water|wildfire|fuel shortage"
        "|power lines|evacuation"
    ),
    th="พายุ|แผ่นดินไหว|ฝนตกหนัก|น้ำขึ้น|ไฟป่า|อพยพ",
    lo="ພາຍຸ|ແຜ່ນດິນໄຫວ|ຝົນຕົກໜັກ|ນ້ຳຂຶ້ນ|ໄຟປ່າ|ອົບພະຍົບ",
)
_EXHAUSTION = _phrases(
    en="exhausted|no sleep|can't cope|cannot cope|overwhelmed|burned out",
    th="เหนื่อยมาก|ไม่ได้นอน|รับมือไม่ไหว",
    lo="ເມື່ອຍຫຼາຍ|ບໍ່ໄດ້ນອນ|ຮັບມືບໍ່ໄຫວ",
)

SIGNALS = (
    SignalRule("danger_to_life", _DANGER, impact="extensive", urgency="critical"),
    SignalRule("vulnerable_people", _VULNERABLE, impact="significant", urgency="high"),
    SignalRule("medical_need", _MEDICAL, impact="significant", urgency="critical"),
    SignalRule("basic_needs", _NEEDS, impact="significant", urgency="medium"),
    SignalRule("critical_facility", _FACILITY, impact="extensive", urgency="medium"),
    SignalRule("service_down", _SERVICE_DOWN, impact="significant", urgency="high"),
    SignalRule("time_pressure", _TIME, urgency="high"),
    SignalRule("money_at_stake", _MONEY, impact="moderate"),
    SignalRule("damage", _DAMAGE, impact="significant", urgency="medium"),
    SignalRule("hazard_reported", _HAZARD, impact="moderate", urgency="medium"),
    SignalRule("exhaustion", _EXHAUSTION, urgency="medium"),
)


def _sub(name: str, en: str, th: str, lo: str) -> Subcategory:
    return Subcategory(name, _phrases(en=en, th=th, lo=lo))


CATEGORIES = (
    CategoryRule(
        "rescue",
        _phrases(en="rescue|help us", th="ช่วยเหลือ", lo="ຊ່ວຍເຫຼືອ"),
        (
            _sub("trapped", "trapped|stuck|buried|rubble", "ติดอยู่", "ຕິດຢູ່"),
            _sub(
                "medical",
                "injured|doctor|medicine|hospital|sick|wounded",
                "บาดเจ็บ|ยา|โรงพยาบาล|ป่วย",
                "ບາດເຈັບ|ຢາ|ໂຮງໝໍ|ເຈັບປ່ວຍ",
            ),
            _sub("missing", "missing|lost child", "สูญหาย|หายตัว", "ສູນຫາຍ"),
            _sub("evacuation", "evacuate|evacuation", "อพยพ", "ອົບພະຍົບ"),
        ),
    ),
    CategoryRule(
        "supplies",
        _phrases(en="supplies|aid", th="ของบริจาค", lo="ເຄື່ອງຊ່ວຍເຫຼືອ"),
        (
            _sub("water", "water|thirsty", "น้ำดื่ม", "ນ້ຳດື່ມ"),
            _sub("food", "food|hungry|eat|rice", "อาหาร|หิว|ข้าว", "ອາຫານ|ຫິວ|ເຂົ້າ"),
            _sub("shelter", "shelter|tent|tents|homeless", "ที่พัก|เต็นท์", "ບ່ອນພັກ|ເຕັນ"),
            _sub("clothing", "clothes|clothing|blanket|blankets", "เสื้อผ้า|ผ้าห่ม", "ເສື້ອຜ້າ|ຜ້າຫົ່ມ"),
        ),
    ),
    CategoryRule(
        "infrastructure",
        _phrases(en="infrastructure", th="สาธารณูปโภค", lo="ພື້ນຖານໂຄງລ່າງ"),
        (
            _sub("power", "electricity|power|blackout", "ไฟฟ้า|ไฟดับ", "ໄຟຟ້າ"),
            _sub("roads", "road|roads|bridge", "ถนน|สะพาน", "ຖະໜົນ|ຂົວ"),
            _sub(
                "communications",
                "phone|network|signal|internet",
                "สัญญาณ|อินเทอร์เน็ต",
                "ສັນຍານ|ອິນເຕີເນັດ",
            ),
            _sub(
                "buildings", "house|houses|building|collapsed|roof", "บ้านพัง|อาคาร", "ເຮືອນພັງ|ອາຄານ"
            ),
        ),
    ),
    CategoryRule(
        "technical",
        _phrases(en="system|systems", th="ระบบ", lo="ລະບົບ"),
        (
            _sub("login", "log in|login|password|sign in", "เข้าสู่ระบบ|รหัสผ่าน", "ເຂົ້າລະບົບ|ລະຫັດຜ່ານ"),
            _sub("payments", "payment|payments|refund|charged", "ชำระเงิน|โอนเงิน", "ຊຳລະເງິນ|ໂອນເງິນ"),
            _sub("website", "website|site|app", "เว็บไซต์|แอป", "ເວັບໄຊ|ແອັບ"),
        ),
    ),
)

QUESTIONS = (
    Question("how_many", ("people_affected",)),
    Question("financial_impact", ("money_at_stake",)),
    Question("exhausting", ("exhaustion",)),
    Question("dangerous", ("danger_to_life", "vulnerable_people")),
    Question("fix_first", ("basic_needs", "medical_need", "service_down", "critical_facility")),
)


def default_config(*, use_model: bool = True) -> TriageConfig:
    """The built-in crisis config: scales and matrix as in the shipped playbooks, en/th/lo rules."""
    return TriageConfig(
        levels=("urgent", "high", "medium", "low"),
        impact=IMPACT,
        urgency=URGENCY,
        matrix=MATRIX,
        default_impact="minor",
        default_urgency="low",
        languages=("en", "th", "lo"),
        signals=SIGNALS,
        categories=CATEGORIES,
        questions=QUESTIONS,
        use_model=use_model,
    )
