"""The built-in crisis triage config (English, Thai, Lao): used with no playbook and by the eval.

Phrases (``lexicon.py``) are matched as whole words in Latin script and as substrings in Thai and
Lao, which are written without spaces between words. Keep them specific: a phrase that fires on
chatter costs an urgent queue its focus. Categories also say which route a reply takes
(``CATEGORY_ROUTES``): a playbook's category borrows its built-in namesake's phrases and route.
"""

from __future__ import annotations

from crisiscast.incidents.intake.triage.config import (
    CategoryRule,
    Combination,
    Question,
    SignalRule,
    Subcategory,
    TriageConfig,
)
from crisiscast.incidents.intake.triage.lexicon import (
    ACCOUNT_REQUEST,
    ASKING,
    BASIC_NEEDS,
    CALM,
    CLAIM,
    DAMAGE,
    EXHAUSTION,
    FACILITY,
    FAULT,
    FRAUD,
    HARM,
    HAZARD,
    HAZARD_HERE,
    LOCKOUT,
    MEDICAL_HELP,
    MEDICINE,
    MONEY,
    OUT_OF_REACH,
    PLEA,
    RELATIVE,
    REQUEST,
    ROUTINE,
    SERVICE_DOWN,
    SOFTWARE,
    SOFTWARE_FAULT,
    TIME,
    VULNERABLE,
    phrases,
)

IMPACT = ("extensive", "significant", "moderate", "minor")
URGENCY = ("critical", "high", "medium", "low")
MATRIX = {
    "extensive": {"critical": "urgent", "high": "urgent", "medium": "high", "low": "medium"},
    "significant": {"critical": "urgent", "high": "high", "medium": "high", "low": "medium"},
    "moderate": {"critical": "high", "high": "medium", "medium": "medium", "low": "low"},
    "minor": {"critical": "medium", "high": "medium", "medium": "low", "low": "low"},
}

SIGNALS = (
    SignalRule("danger_to_life", HARM, impact="extensive", urgency="critical", negatable=True),
    SignalRule("call_for_rescue", PLEA, impact="extensive", urgency="critical"),
    SignalRule("fraud_in_progress", FRAUD, impact="significant", urgency="critical"),
    SignalRule("vulnerable_people", VULNERABLE, impact="significant", urgency="high"),
    SignalRule("hazard_here", HAZARD_HERE, impact="moderate", urgency="high"),
    SignalRule("medical_need", MEDICAL_HELP, impact="significant", urgency="medium"),
    SignalRule("medicine_need", MEDICINE, impact="significant", urgency="medium"),
    SignalRule("basic_needs", BASIC_NEEDS, impact="significant", urgency="medium"),
    SignalRule("critical_facility", FACILITY, impact="extensive", urgency="medium"),
    SignalRule("service_down", SERVICE_DOWN, impact="significant", urgency="high"),
    SignalRule("time_pressure", TIME, urgency="high"),
    SignalRule("money_at_stake", MONEY, impact="moderate"),
    SignalRule("damage", DAMAGE, impact="significant", urgency="medium"),
    SignalRule("hazard_reported", HAZARD, impact="moderate", urgency="medium"),
    SignalRule("exhaustion", EXHAUSTION, urgency="medium"),
    SignalRule("request", REQUEST),  # no level of its own: it completes combinations
    SignalRule("routine_request", ROUTINE, impact="minor", urgency="low"),
    SignalRule("claim_request", CLAIM),  # no level: it picks the claims route (ASKS below)
    SignalRule("asking", ASKING),  # no level: a supplies word counts when the reply asks
    SignalRule("account_request", ACCOUNT_REQUEST),  # no level: the account route (ASKS)
    # No level: these only complete combinations or pick a category.
    SignalRule("out_of_reach", OUT_OF_REACH),
    SignalRule("relative", RELATIVE),
    SignalRule("software", SOFTWARE),
    SignalRule("fault", FAULT),
    SignalRule("software_fault", SOFTWARE_FAULT),
    SignalRule("lockout", LOCKOUT),
    SignalRule("all_fine", CALM, impact="minor", urgency="low", calming=True),
)
COMBINATIONS = (
    # A hazard where someone who cannot save themselves is: danger to life.
    Combination(
        "person_at_risk",
        (("vulnerable_people",), ("hazard_here", "danger_to_life")),
        impact="extensive",
        urgency="critical",
    ),
    # Someone ill who asks for help: the development set's urgent (medical_help and request).
    Combination(
        "medical_emergency",
        (("medical_need",), ("request", "time_pressure")),
        impact="extensive",
        urgency="critical",
    ),
    # Care that stops with the system ("patients ... the pharmacy system is down").
    Combination(
        "care_interrupted",
        (("vulnerable_people", "medical_need", "medicine_need"), ("service_down",)),
        impact="extensive",
        urgency="critical",
    ),
    # A named person out of reach or taken by the water: missing, danger to life.
    Combination(
        "person_missing",
        (("out_of_reach",), ("relative", "vulnerable_people")),
        impact="extensive",
        urgency="critical",
    ),
    # Software that does not work: a technical problem (no level; it picks the category).
    Combination("software_fault", (("software",), ("fault", "service_down"))),
    # Many people locked out at once: an outage (technical), not one account's problem.
    Combination("outage_for_many", (("lockout",), ("people_affected",))),
    # Medicine needed now ("ต้องการยาด่วน").
    Combination(
        "medicine_now",
        (("medicine_need",), ("time_pressure",)),
        impact="extensive",
        urgency="critical",
    ),
)


def _sub(name: str, en: str, th: str = "", lo: str = "") -> Subcategory:
    return Subcategory(name, phrases(en=en, th=th, lo=lo))


CATEGORIES = (
    CategoryRule(
        "rescue",
        phrases(en="rescue|help us|boat", th="ช่วยด้วย|ต้องการเรือ", lo="ຊ່ວຍແດ່|ຕ້ອງການເຮືອ"),
        (
            _sub("trapped", "trapped|stuck|buried|rubble|roof", "ติดอยู่|หลังคา", "ຕິດຢູ່|ຫຼັງຄາ"),
            _sub(
                "medical",
                "injured|doctor|hospital|sick|wounded|bleeding|ambulance",
                "บาดเจ็บ|โรงพยาบาล|ป่วย|เลือดออก|หมอ",
                "ບາດເຈັບ|ໂຮງໝໍ|ເຈັບປ່ວຍ|ເລືອດອອກ|ທ່ານໝໍ",
            ),
            _sub(
                "missing",
                "missing|lost child|can't find|cant find|cannot find|haven't heard from",
                "สูญหาย|หายตัว|หาไม่เจอ",
                "ສູນຫາຍ|ຊອກບໍ່ເຫັນ",
            ),
            _sub("evacuation", "evacuate|evacuation", "อพยพ", "ອົບພະຍົບ"),
        ),
    ),
    CategoryRule(
        "supplies",
        phrases(en="supplies|aid", th="ของบริจาค|ถุงยังชีพ", lo="ເຄື່ອງຊ່ວຍເຫຼືອ|ຖົງຍັງຊີບ"),
        (
            _sub(
                "water",
                "drinking water|clean water|thirsty|need water|send water|purification tablets"
                "|water purification|water filter|chlorine tablets",
                "น้ำดื่ม|น้ำสะอาด|ขอน้ำ|ส่งน้ำ|ไม่มีน้ำ",
                "ນ້ຳດື່ມ|ນ້ຳສະອາດ|ຂໍນ້ຳ|ສົ່ງນ້ຳ|ບໍ່ມີນ້ຳ",
            ),
            _sub(
                "food",
                "food|hungry|eat|rice|milk",
                "อาหาร|หิว|ข้าวสาร|ขอข้าว|ข้าวหมด|นม|ของกิน|ไม่มีข้าว",
                "ອາຫານ|ຫິວ|ເຂົ້າສານ|ຂໍເຂົ້າ|ເຂົ້າໝົດ|ນົມ|ຂອງກິນ|ບໍ່ມີເຂົ້າ",
            ),
            _sub(
                "medicine",
                "medicine|insulin|pills|inhaler|nurse|doctor|clinic|medical team|ors"
                "|rehydration salts|oral rehydration|cream|ointment|antibiotics|paracetamol"
                "|painkillers|bandages|first aid",
                "ยาหมด|ต้องการยา|ขอยา|อินซูลิน|พยาบาล|หมอ|หน่วยแพทย์|ยาแก้|ยาประจำตัว|ยาโรค",
                "ຢາໝົດ|ຕ້ອງການຢາ|ຂໍຢາ|ອິນຊູລິນ|ພະຍາບານ|ທ່ານໝໍ|ແພດ|ຢາແກ້|ຢາປະຈຳຕົວ|ຢາພະຍາດ",
            ),
            _sub(
                "shelter",
                "shelter|tent|tents|homeless|blankets|nowhere to sleep|tarps|mats",
                "ที่พัก|เต็นท์|ผ้าห่ม|ที่นอน|ผ้าใบ|เสื่อ|มุ้ง|ศูนย์พักพิงที่ใกล้",
                "ບ່ອນພັກ|ເຕັນ|ຜ້າຫົ່ມ|ບ່ອນນອນ|ຜ້າໃບ|ສາດ|ມຸ້ງ|ສູນພັກພິງໃກ້",
            ),
            _sub(
                "clothing",
                "clothes|clothing|soap|pads|diapers|cooking gas|gas cylinder|gas bottle|pots|pans"
                "|stove|cook",
                "เสื้อผ้า|สบู่|ผ้าอนามัย|แพมเพิส|แก๊ส|หม้อ",
                "ເສື້ອຜ້າ|ສະບູ|ຜ້າອະນາໄມ|ຜ້າອ້ອມ|ແກັສ|ໝໍ້",
            ),
        ),
    ),
    CategoryRule(
        "aid_claim",
        CLAIM,
        (
            _sub(
                "housing",
                "damaged house|house damage|renters|landlord",
                "บ้านเสียหาย|ค่าเสียหายบ้าน|เช่าบ้าน",
                "ເຮືອນເສຍຫາຍ|ຄ່າເສຍຫາຍເຮືອນ|ເຊົ່າເຮືອນ",
            ),
            _sub("crops", "crops|rice crop|rice harvest|harvest|paddy|farmers", "พืชผล", "ພືດຜົນ"),
            _sub("livestock", "livestock|buffalo|pigs|cattle", "ควาย|หมู|วัว", "ຄວາຍ|ໝູ|ງົວ"),
            _sub(
                "documents",
                "documents|id card|form|claim number",
                "เอกสาร|บัตรประชาชน|แบบฟอร์ม|ทะเบียนบ้าน|คำร้อง|บัญชีธนาคาร",
                "ເອກະສານ|ບັດປະຈຳຕົວ|ແບບຟອມ|ຄຳຮ້ອງ|ບັນຊີທະນາຄານ|ໃບຢັ້ງຢືນ",
            ),
        ),
    ),
    CategoryRule(
        "rescheduling",
        phrases(
            en=(
                "reschedule|postpone|appointment|rebook|another day|change the date"
                "|change the day|delay|later slot|move the|move my|instead"
            ),
            th="เลื่อน|เปลี่ยนวัน|นัด|จองคิว",
            lo="ເລື່ອນ|ປ່ຽນມື້|ນັດ|ຈອງຄິວ",
        ),
        (
            _sub("jobs", "job|migration|export|batch|maintenance"),
            _sub(
                "appointments",
                "appointment|inspection|visit|registration|survey|call|session",
                "นัด|ตรวจบ้าน|วันจันทร์|วันอังคาร|วันพุธ|ขอเป็นวัน",
                "ນັດ|ກວດເຮືອນ|ວັນຈັນ|ວັນອັງຄານ|ວັນພຸດ|ຂໍເປັນວັນ",
            ),
            _sub(
                "deliveries",
                "delivery|deliveries|collecting",
                "วันส่ง|การจัดส่ง|รับข้าว",
                "ມື້ສົ່ງ|ການຈັດສົ່ງ|ຮັບເຂົ້າ",
            ),
            _sub("renewals", "renewal|contract", "ต่ออายุ|สัญญา", "ຕໍ່ອາຍຸ|ສັນຍາ"),
        ),
    ),
    CategoryRule(
        "security",
        phrases(
            en=(
                "phishing|fraud|scam|hacked|unauthorised|unauthorized|stolen|someone is using"
                "|someone changed|someone logged|pretending|threatening|my card|spam|sending spam"
                "|other sites|other websites|other accounts|same password"
            ),
            th="ฟิชชิ่ง|อีเมลปลอม|แอบอ้าง|ตัดเงิน|ใช้บัตร|มีคนเปลี่ยน",
            lo="ຟິດຊິງ|ອີເມວປອມ|ຕັດເງິນ|ໃຊ້ບັດ|ມີຄົນປ່ຽນ",
        ),
        (
            _sub("phishing", "phishing|link|fake", "ฟิชชิ่ง|อีเมลปลอม", "ຟິດຊິງ|ອີເມວປອມ"),
            _sub("fraud", "card|payment|payments|account emptied", "บัตร|ตัดเงิน", "ບັດ|ຕັດເງິນ"),
            _sub("account_takeover", "logged into|changed my", "มีคนเปลี่ยน", "ມີຄົນປ່ຽນ"),
        ),
    ),
    CategoryRule(
        "privacy",
        phrases(
            en="my data|personal data|data protection|delete my|erase|exposed|breach",
            th="ข้อมูลของฉัน|ลบข้อมูล|ข้อมูลรั่ว|ข้อมูลอะไร",
            lo="ຂໍ້ມູນຂອງຂ້ອຍ|ລຶບຂໍ້ມູນ|ຂໍ້ມູນທີ່ຮົ່ວ|ຂໍ້ມູນທັງໝົດ",
        ),
        (
            _sub("access_request", "copy of|access request|what data", "สำเนา", "ສຳເນົາ"),
            _sub("erasure_request", "delete|erase|deleted", "ลบ", "ລຶບ"),
            _sub("complaint", "complaint|complain", "ร้องเรียน", "ຮ້ອງຮຽນ"),
        ),
    ),
    CategoryRule(
        "account",
        phrases(
            en=(
                "invoice|invoices|billing|subscription|admin|refund|credit|credits|vat|my account"
                "|charged twice"
            ),
            th="ใบแจ้งหนี้|สมัครสมาชิก|แอดมิน|คืนเงิน|บัญชี",
            lo="ໃບແຈ້ງໜີ້|ແອັດມິນ|ຄືນເງິນ|ບັນຊີ",
        ),
        (
            _sub(
                "password_reset",
                "password|reset|two step|2fa|sign in|log in|locked out",
                "รหัสผ่าน|รีเซ็ต",
                "ລະຫັດຜ່ານ|ຣີເຊັດ",
            ),
            _sub("access", "access|locked|user"),
            _sub(
                "billing", "invoice|billing|refund|charged|card expired", "ใบแจ้งหนี้|คืนเงิน", "ຄືນເງິນ"
            ),
            _sub("admin", "admin|owner", "แอดมิน", "ແອັດມິນ"),
        ),
    ),
    CategoryRule(
        "technical",
        phrases(
            en=(
                "system|systems|app|website|site|error|crash|crashes|crashing|loading|api"
                "|server|link|upload|bug|timeout|timeouts|dashboard|latency|slow|outage"
                "|is down|are down|down again|chat|live chat|portal|glitch"
            ),
            th="ระบบ|แอป|เว็บ|error|ล่ม|โหลด|ลิงก์|otp|แชท",
            lo="ລະບົບ|ແອັບ|ເວັບ|ລົ້ມ|ໂຫຼດ|ລິ້ງ|otp|ແຊັດ",
        ),
        (
            _sub(
                "login",
                "log in|login|password|sign in|otp|verification code",
                "เข้าสู่ระบบ|รหัสผ่าน|เข้าระบบ",
                "ເຂົ້າລະບົບ|ລະຫັດຜ່ານ",
            ),
            _sub(
                "payments", "payment|payments|checkout|charged", "ชำระเงิน|จ่ายเงิน", "ຊຳລະເງິນ|ຈ່າຍເງິນ"
            ),
            _sub("website", "website|site|page", "เว็บไซต์|เว็บ", "ເວັບໄຊ|ເວັບ"),
            _sub("app", "app|mobile", "แอป", "ແອັບ"),
            _sub("api", "api|webhooks|endpoint"),
            _sub("performance", "slow|latency|timeout|timeouts", "ช้า", "ຊ້າ"),
            _sub("data", "export|records|data|report|reports|search results", "ข้อมูล", "ຂໍ້ມູນ"),
        ),
    ),
    CategoryRule(
        "infrastructure",
        phrases(en="infrastructure", th="สาธารณูปโภค", lo="ພື້ນຖານໂຄງລ່າງ"),
        (
            _sub("power", "electricity|power|blackout", "ไฟฟ้า|ไฟดับ", "ໄຟຟ້າ"),
            _sub("roads", "road|roads|bridge", "ถนน|สะพาน", "ຖະໜົນ|ຂົວ"),
            _sub("communications", "phone|network|signal|internet", "สัญญาณ", "ສັນຍານ"),
            _sub("buildings", "building|collapsed", "บ้านพัง|อาคาร", "ເຮືອນພັງ|ອາຄານ"),
        ),
    ),
)
# Which route need a category takes when the playbook has no route of the category's own name.
# "category/subcategory" keys win over "category" ones. Danger to life always takes the
# emergency route first, whatever the category.
CATEGORY_ROUTES = {
    "rescue": "emergency",
    "supplies": "account",
    "aid_claim": "account",
    "claims": "account",
    "administrative": "account",
    "billing": "account",
    "security": "account",
    "privacy": "account",
    "account/password_reset": "technical",
    "infrastructure": "account",
}

# What a reply asks for picks its category before the things it mentions (after danger to
# life): signal -> category, first found wins. "can I move the doctor's visit to Monday?" asks
# to reschedule, whatever the doctor; "compensation for my rice field" asks for a claim. Before
# the asks, software that fails ("the claim form won't submit") and many people locked out:
# the reply cannot do what it asks until live chat helps. After them, refunds and credits.
ASKS = (
    ("outage_for_many", "technical"),
    ("software_fault", "technical"),
    ("software_fault", "account"),
    ("routine_request", "rescheduling"),
    ("claim_request", "aid_claim"),
    ("claim_request", "claims"),
    ("claim_request", "administrative"),
    ("account_request", "account"),
    ("claim_request", "account"),
)
# Urgent by these alone, a reply still takes the route of a category it names ("my daughter has
# a fever, please send a nurse" is supplies/medicine, first in the agents' queue); with no
# category phrase ("my husband is sick, please help") it takes the emergency line.
SOFT_LIFE = ("medical_emergency",)
# Categories whose topic words (subcategory phrases: "rice", "milk", "soap") pick them only in
# a reply that asks for them, through one of these signals: "rice fields all under water" is a
# report, "send rice" asks for supplies. (Claims topics, "my pigs died", are claims as such.)
TOPICS_NEED = {"supplies": ("asking", "request", "basic_needs", "medicine_need")}
# A reply with unmet needs that names no category ("we have nowhere to go", "needs her
# inhaler") still asks for supplies: signal -> category, used when no phrase picks one.
NEEDS = (("basic_needs", "supplies"), ("medicine_need", "supplies"))

QUESTIONS = (
    Question("how_many", ("people_affected",)),
    Question("financial_impact", ("money_at_stake",)),
    Question("exhausting", ("exhaustion",)),
    Question("dangerous", ("danger_to_life", "vulnerable_people", "person_at_risk")),
    Question("fix_first", ("basic_needs", "medical_need", "service_down", "critical_facility")),
)


def default_config(*, use_model: bool = True, operating_point: str | None = None) -> TriageConfig:
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
        combinations=COMBINATIONS,
        category_routes=CATEGORY_ROUTES,
        asks=ASKS,
        topics_need=TOPICS_NEED,
        needs=NEEDS,
        soft_life=SOFT_LIFE,
        operating_point=operating_point or DEFAULT_OPERATING_POINT,
    )


DEFAULT_OPERATING_POINT = "urgent_recall"
