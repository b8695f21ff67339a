"""The built-in phrases in English, Thai and Lao: what people write when life, needs or claims
are at stake, and when they are fine.

Latin-script phrases match whole words; Thai and Lao ones match as substrings (the scripts put no
spaces between words; the engine also matches them with the reply's spaces removed). So a Thai or
Lao phrase must not be a piece of a common longer word: ยา (medicine) hides in ยาย (grandmother),
ຢາ in ຢາກ (want), ขอ in ขอบคุณ (thank you); such words appear only inside longer phrases here.
Each table is one "|"-separated string per language to keep it readable.
"""

from __future__ import annotations


def phrases(**by_language: str) -> dict[str, tuple[str, ...]]:
    """Phrases per language from one "|"-separated string each."""
    return {lang: tuple(p for p in text.split("|") if p) for lang, text in by_language.items()}


# People killed, injured, missing or trapped; medical emergencies. A negation just before
# ("no one was injured", "ไม่มีใครบาดเจ็บ") cancels a phrase.
HARM = phrases(
    en=(
        "trapped|stuck under|stuck in the|stuck on the|stuck upstairs|stuck in our|buried"
        "|under the rubble|under the debris|injured|injuries|injury|wounded|hurt|bleeding"
        "|unconscious|not breathing|can't breathe|cannot breathe|cant breathe|heart attack"
        "|stroke|seizure|convulsions|drowning|drowned|swept away|washed away|dead|died|dying"
        "|death|deaths|killed|bodies|corpses|missing|lost child|search and rescue|kidnapped"
        "|shooting|gunfire|raped|on fire|electrocuted|crushed|armed men|gunmen|going to die"
        "|in labour|in labor|contractions|snake bite|bitten|fainting|fainted|not moving"
        "|broken leg|broken legs|broke his|broke her|casualties|fatalities|rescue"
        "|rescued|rescuers|no one answers|didnt answer|went under|go under|screaming|search team"
        "|wandered off|under it"
        "|didn't answer|not answering|robbing|knives|capsized|fell into|fell from"
        "|man came to my door|men came to my door|someone came to my door|stranger came to my door"
        "|showed up at my|knocking on my door|knows where i live|following me|stalking me"
        "|threatened me"
    ),
    th=(
        "ติดอยู่|ติดค้าง|บาดเจ็บ|คนเจ็บ|เลือดออก|หมดสติ|ไม่รู้สึกตัว|ไม่หายใจ|หายใจไม่ออก"
        "|หายใจไม่ค่อยออก|จมน้ำ|ถูกน้ำพัด|น้ำพัด|เสียชีวิต|ตาย|ศพ|สูญหาย|หายตัว|หาไม่เจอ"
        "|ไม่ตอบ|ไฟไหม้|ถูกทำร้าย|ไฟดูด|หัวใจวาย|ชัก|เจ็บท้อง|จะคลอด|น้ำเดิน|งูกัด|ทับ"
        "|ไม่ขยับ|ขาหัก|หัวแตก|เป็นลม|ปล้น|มีด|เรือล่ม|เรือพลิก|ตกเรือ|ตกคลอง|ตกน้ำ"
        "|ค้นหา|กู้ภัย|คนหาย|หายจาก|เดินหาย|เจ็บหน้าอก|ไม่กลับมา|หายไปตั้งแต่"
    ),
    lo=(
        "ຕິດຢູ່|ບາດເຈັບ|ຄົນເຈັບ|ເລືອດອອກ|ສະຫຼົບ|ບໍ່ຮູ້ສຶກຕົວ|ບໍ່ຫາຍໃຈ|ຫາຍໃຈບໍ່ອອກ"
        "|ຫາຍໃຈບໍ່ຄ່ອຍອອກ|ຈົມນ້ຳ|ຖືກນ້ຳພັດ|ນ້ຳພັດ|ເສຍຊີວິດ|ຕາຍ|ສົບ|ສູນຫາຍ|ຊອກບໍ່ເຫັນ"
        "|ບໍ່ຕອບ|ໄຟໄໝ້|ຖືກທຳຮ້າຍ|ໄຟຟ້າຊັອດ|ຫົວໃຈວາຍ|ຊັກ|ເຈັບທ້ອງ|ຈະເກີດລູກ|ນ້ຳເດີນ"
        "|ງູຕອດ|ທັບ|ບໍ່ເໜັງ|ຂາຫັກ|ຫົວແຕກ|ເປັນລົມ|ປຸ້ນ|ມີດ|ເຮືອລົ້ມ|ເຮືອປີ້ນ|ຕົກເຮືອ"
        "|ຕົກຄອງ|ຕົກນ້ຳ|ຊອກຫາ|ກູ້ໄພ|ຄົນຫາຍ|ຫາຍຈາກ|ຍ່າງຫາຍ|ເຈັບເອິກ|ເຈັບໜັກ|ບໍ່ກັບມາ|ຫາຍໄປຕັ້ງແຕ່"
    ),
)
# Calls for rescue that are danger to life whatever follows ("no one can save us" stays urgent).
PLEA = phrases(
    en="save us|save me|rescue us|rescue me|sos|come quickly|send a boat|send boat|need a boat",
    th="ช่วยด้วย|ต้องการเรือ|ส่งเรือ|มาช่วย",
    lo="ຊ່ວຍແດ່|ຊ່ວຍດ້ວຍ|ຕ້ອງການເຮືອ|ສົ່ງເຮືອ|ມາຊ່ວຍ",
)
# Who cannot save themselves: with a hazard where they are, danger to life.
VULNERABLE = phrases(
    en=(
        "baby|babies|infant|newborn|elderly|old man|old woman|old lady|old people|old couple"
        "|grandmother|grandma|grandfather|grandpa|granddad|grand dad|pregnant|disabled"
        "|wheelchair|bedridden|paralysed|paralyzed|blind|dementia|cannot walk|can't walk"
        "|cant walk|unable to walk|too weak|too old|can't climb|cant climb|cannot climb"
        "|nobody can carry|orphan|orphans|alone child|kid alone"
        "|child alone|children|kids|patients|nursing home|care home"
    ),
    th=(
        "ทารก|เด็ก|ผู้สูงอายุ|คนชรา|คนแก่|ยาย|ตายาย|ปู่|ตั้งครรภ์|ท้องแก่|คนท้อง|คนพิการ"
        "|พิการ|รถเข็น|ติดเตียง|อัมพาต|ตาบอด|อัลไซเมอร์|เดินไม่ได้|เดินไม่ไหว|ขึ้นบันไดไม่ได้"
        "|ย้ายไม่ได้|คนไข้|บ้านพักคนชรา|ลูกชาย|ลูกสาว|ลูกน้อย|ลูกเล็ก|แรกเกิด|อายุ8|อายุ9"
    ),
    lo=(
        "ເດັກ|ຜູ້ສູງອາຍຸ|ຄົນເຖົ້າ|ແມ່ຕູ້|ພໍ່ຕູ້|ຖືພາ|ແມ່ມານ|ຄົນພິການ|ຜູ້ພິການ|ພິການ"
        "|ລໍ້ເລື່ອນ|ນອນຕິດຕຽງ|ອຳມະພາດ|ຕາບອດ|ຂີ້ລືມ|ຍ່າງບໍ່ໄດ້|ຍ່າງບໍ່ໄຫວ|ຂຶ້ນຂັ້ນໄດບໍ່ໄດ້"
        "|ຍ້າຍບໍ່ໄດ້|ເກີດໃໝ່|ລູກຊາຍ|ລູກສາວ|ລູກນ້ອຍ|ອາຍຸ8|ອາຍຸ9"
    ),
)
# A hazard where the person is, now: with a vulnerable person, danger to life.
HAZARD_HERE = phrases(
    en=(
        "water coming|water is coming|water rising|rising water|water is rising|rising fast"
        "|water up to|water at|water is at|water is in|waist deep|knee deep|chest deep"
        "|water in the house"
        "|water into|water entering|water keeps|water is getting higher|getting higher"
        "|still rising|room is flooding|house is flooding|flooding the|fire|smoke|cut off"
        "|stranded|surrounded by water|road is under water|cant leave|can't leave"
        "|cannot leave|no way out|landslide|mudslide|collapsing|collapsed|cracking"
        "|stuck at home|stuck in the house|stuck at the house|stuck here"
    ),
    th=(
        "น้ำเข้า|น้ำขึ้น|น้ำถึง|น้ำสูง|น้ำล้อม|น้ำกำลัง|น้ำท่วมมิด|ไฟไหม้|ออกไม่ได้|ออกจากบ้านไม่ได้"
        "|ไปไหนไม่ได้|ถนนน้ำท่วม|ดินถล่ม|ดินสไลด์|ร้าว|ถล่ม"
    ),
    lo=(
        "ນ້ຳເຂົ້າ|ນ້ຳຂຶ້ນ|ນ້ຳຮອດ|ນ້ຳສູງ|ນ້ຳອ້ອມ|ນ້ຳກຳລັງ|ນ້ຳຖ້ວມຮອດ|ໄຟໄໝ້|ອອກບໍ່ໄດ້|ອອກຈາກເຮືອນບໍ່ໄດ້"
        "|ໄປໃສບໍ່ໄດ້|ທາງນ້ຳຖ້ວມ|ດິນເຈື່ອນ|ແຕກ|ພັງ"
    ),
)
# Someone ill or needing care (the development data's medical_help).
MEDICAL_HELP = phrases(
    en=(
        "doctor|doctors|nurse|medic|medical|sick|ill|fever|cholera|diarrhea|diarrhoea"
        "|infection|give birth|treatment|heart disease|diabetic|diabetes|asthma|dialysis"
        "|epileptic|dengue|blood pressure|wound|hospital|clinic"
    ),
    th=("หมอ|พยาบาล|ป่วย|ไข้|ท้องเสีย|โรคหัวใจ|เบาหวาน|ความดัน|หอบหืด|ฟอกไต|ลมชัก|คลอด|โรงพยาบาล|ผื่น"),
    lo=(
        "ທ່ານໝໍ|ພະຍາບານ|ເຈັບປ່ວຍ|ປ່ວຍ|ໄຂ້|ຖອກທ້ອງ|ພະຍາດ|ຫົວໃຈ|ເບົາຫວານ|ຄວາມດັນ|ຫອບຫືດ|ລ້າງໄຕ|ບ້າໝູ|ເກີດລູກ|ໂຮງໝໍ|ຜື່ນ"
    ),
)
# Medicines and supplies for care (the development data's medical_products).
MEDICINE = phrases(
    en=(
        "medicine|medicines|medication|insulin|pills|inhaler|drugs|oxygen|first aid"
        "|rehydration salts|oral rehydration|ors|antibiotics|paracetamol|painkillers|ointment"
        "|cream|bandages|eye drops"
    ),
    th=(
        "ต้องการยา|ขอยา|ยาหมด|ไม่มียา|ยาประจำตัว|ยาแก้|ยาทา|ยาพ่น|ยาความดัน|ยาโรค|ยาเม็ด"
        "|อินซูลิน|ออกซิเจน|เกลือแร่"
    ),
    lo=(
        "ຕ້ອງການຢາ|ຂໍຢາ|ຢາໝົດ|ບໍ່ມີຢາ|ຢາປະຈຳຕົວ|ຢາແກ້|ຢາທາ|ຢາພົ່ນ|ຢາສີດ|ຢາຄວາມດັນ"
        "|ຢາພະຍາດ|ຢາຂ້າ|ອິນຊູລິນ|ອົກຊີເຈນ|ເກືອແຮ່"
    ),
)
# Asking for something: with a medical need, what the development data calls urgent.
# English only: Thai and Lao replies say ต้องการ / ຕ້ອງການ ("need") about everything.
REQUEST = phrases(en="need|needs|needed|please|pls|plz|send|help|requesting|request")
# Money being taken now: danger to a person's livelihood, as urgent as the breach playbook says.
FRAUD = phrases(
    en=(
        "someone is using my card|money taken|account emptied|unauthorised payment"
        "|unauthorized payment|card was used|being charged right now|was emptied|money was taken"
    ),
    th="มีคนใช้บัตร|เงินในบัญชีหาย|ตัดเงินไป",
    lo="ມີຄົນໃຊ້ບັດ|ເງິນໃນບັນຊີຫາຍ|ຕັດເງິນໄປ",
)
BASIC_NEEDS = phrases(
    en=(
        "no water|no food|hungry|hunger|starving|thirsty|need water|need food|need shelter"
        "|no shelter|homeless|tent|tents|nowhere to sleep|nothing to eat|drinking water"
        "|clean water|blankets|baby formula|milk powder|diapers|mosquito nets|tarps|food packs"
        "|dry food|ran out of food|out of food|rice finished|no rice|send water|send food"
        "|without clean water|no drinking water|nowhere else|purification tablets"
        "|water purification|water filter|chlorine tablets|can't cook|cant cook|cannot cook"
    ),
    th=(
        "ไม่มีน้ำ|ไม่มีอาหาร|ไม่มีข้าว|ข้าวหมด|อาหารหมด|หิว|ไม่มีที่อยู่|ไม่มีที่พัก|ไม่มีที่นอน"
        "|ต้องการน้ำ|ต้องการอาหาร|ต้องการที่พัก|ต้องการผ้าห่ม|น้ำดื่ม|น้ำสะอาด|ผ้าห่ม|นมผง"
        "|ถุงยังชีพ|เต็นท์|มุ้ง|ผ้าใบ|ของกิน|ขอข้าว|ขอน้ำ|ขออาหาร|ส่งน้ำ|ไม่มีบ้าน|ไม่มีที่ไป"
    ),
    lo=(
        "ບໍ່ມີນ້ຳ|ບໍ່ມີອາຫານ|ບໍ່ມີເຂົ້າ|ເຂົ້າໝົດ|ອາຫານໝົດ|ຫິວ|ບໍ່ມີບ່ອນພັກ|ບໍ່ມີບ່ອນຢູ່"
        "|ບໍ່ມີບ່ອນນອນ|ຕ້ອງການນ້ຳ|ຕ້ອງການອາຫານ|ຕ້ອງການບ່ອນພັກ|ຕ້ອງການຜ້າຫົ່ມ|ນ້ຳດື່ມ|ນ້ຳສະອາດ"
        "|ຜ້າຫົ່ມ|ນົມຜົງ|ຖົງຍັງຊີບ|ເຕັນ|ມຸ້ງ|ຜ້າໃບ|ຂອງກິນ|ຂໍເຂົ້າ|ຂໍນ້ຳ|ຂໍອາຫານ|ສົ່ງນ້ຳ"
        "|ບໍ່ມີເຮືອນ|ບໍ່ມີບ່ອນໄປ"
    ),
)
FACILITY = phrases(
    en=(
        "hospitals|hospital's|icu|emergency room|ambulance|life support|power plant|water supply"
        "|dam|nursing home"
    ),
    th="รถพยาบาล|ห้องฉุกเฉิน|เขื่อน|ไอซียู",
    lo="ລົດໂຮງໝໍ|ຫ້ອງສຸກເສີນ|ເຂື່ອນ",
)
SERVICE_DOWN = phrases(
    en=(
        "is down|are down|went down|outage|not working|offline|can't log in|cannot log in"
        "|can't access|cannot access|no power|power cut|blackout|no electricity|no network"
        "|no signal|crashed|power is out"
    ),
    th="ระบบล่ม|ล่ม|ใช้งานไม่ได้|ไฟดับ|เข้าสู่ระบบไม่ได้|เข้าระบบไม่ได้|ไม่มีสัญญาณ",
    lo="ລະບົບລົ້ມ|ລົ້ມ|ໃຊ້ບໍ່ໄດ້|ໄຟຟ້າດັບ|ເຂົ້າລະບົບບໍ່ໄດ້|ບໍ່ມີສັນຍານ",
)
TIME = phrases(
    en=(
        "right now|immediately|asap|urgent|urgently|emergency|hurry|running out|rising fast"
        "|within the hour|tonight|as soon as possible"
    ),
    th="ด่วน|ทันที|เดี๋ยวนี้|ฉุกเฉิน|ใกล้หมด",
    lo="ດ່ວນ|ທັນທີ|ດຽວນີ້|ສຸກເສີນ|ໃກ້ໝົດ",
)
MONEY = phrases(
    en=(
        "lost everything|lost my job|can't pay|cannot pay|no money|savings|bankrupt|payroll"
        "|refund|charged twice|double charged|lost my crops|livestock|losing money|revenue"
    ),
    th="ขาดรายได้|ไม่มีเงิน|สูญเสียทุกอย่าง|พืชผลเสียหาย|ตัดเงินซ้ำ|เสียเงิน",
    lo="ບໍ່ມີເງິນ|ສູນເສຍທຸກຢ່າງ|ພືດຜົນເສຍຫາຍ|ຂາດລາຍໄດ້|ຕັດເງິນຊ້ຳ|ເສຍເງິນ",
)
DAMAGE = phrases(
    en=(
        "collapsed|destroyed|house damaged|house is damaged|walls cracked|roof blew off"
        "|house is gone|lost our house|lost my house|lost our home|houses swept"
    ),
    th="บ้านพัง|พังหมด|บ้านร้าว|ผนังแตก|หลังคาปลิว|เสียหายหมด|บ้านหายไป",
    lo="ເຮືອນພັງ|ພັງໝົດ|ເຮືອນແຕກ|ຝາແຕກ|ຫຼັງຄາປິວ|ເສຍຫາຍໝົດ|ເຮືອນຫາຍໄປ",
)
HAZARD = phrases(
    en=(
        "flood|floods|flooding|flooded|storm|hurricane|cyclone|typhoon|earthquake|aftershock"
        "|aftershocks|tsunami|heavy rain|wildfire|fuel shortage|power lines|evacuation"
        "|river is rising|landslide|road blocked|roads blocked|bridge"
    ),
    th="น้ำท่วม|พายุ|แผ่นดินไหว|ฝนตกหนัก|ไฟป่า|อพยพ|ถนนขาด|สะพาน|ตลิ่งพัง|เขื่อนปล่อยน้ำ",
    lo="ນ້ຳຖ້ວມ|ພາຍຸ|ແຜ່ນດິນໄຫວ|ຝົນຕົກໜັກ|ໄຟປ່າ|ອົບພະຍົບ|ຖະໜົນຂາດ|ຂົວ|ຕາຝັ່ງພັງ|ເຂື່ອນປ່ອຍນ້ຳ",
)
EXHAUSTION = phrases(
    en="exhausted|no sleep|can't cope|cannot cope|overwhelmed|burned out",
    th="เหนื่อยมาก|ไม่ได้นอน|รับมือไม่ไหว",
    lo="ເມື່ອຍຫຼາຍ|ບໍ່ໄດ້ນອນ|ຮັບມືບໍ່ໄຫວ",
)
# "We are fine": alone, the reply is low whatever the model thinks.
CALM = phrases(
    en=(
        "we are fine|we're fine|were fine|we are ok|we're ok|we are okay|we are safe|we're safe"
        "|we are good|we're good|all safe|safe here|everyone is safe|everyone is ok"
        "|everyone is fine|everyone is okay|all good|just checking in|checking in|thank you"
        "|thanks|thx|thank u|ok received|message received|received thanks|noted|ok|okay"
        "|not affected|no impact|no one was hurt"
        "|nobody was hurt|nobody hurt|no one hurt|nobody injured|no one injured|no injuries"
        "|family is ok|family is safe|got the message|cheers|unsubscribe|wrong number"
        "|stop sending|remove me|nothing unusual|nothing suspicious|nothing strange|i'm fine"
        "|im fine|i am fine|all normal"
    ),
    th=(
        "สบายดี|ปลอดภัย|ขอบคุณ|รับทราบ|ไม่เป็นไร|ไม่เป็นอะไร|ไม่มีใครบาดเจ็บ|ไม่มีใครเจ็บ"
        "|โอเค|เรียบร้อย|ไม่ได้รับผลกระทบ|ไม่โดนน้ำท่วม|ส่งผิดเบอร์|ยกเลิกรับ|ไม่ต้องส่ง"
    ),
    lo=(
        "ສະບາຍດີ|ປອດໄພ|ຂອບໃຈ|ຮັບຊາບ|ບໍ່ເປັນຫຍັງ|ບໍ່ມີໃຜບາດເຈັບ|ບໍ່ມີໃຜເຈັບ|ໂອເຄ"
        "|ຮຽບຮ້ອຍ|ບໍ່ຖືກນ້ຳຖ້ວມ|ສົ່ງຜິດເບີ|ຍົກເລີກຮັບ|ບໍ່ຕ້ອງສົ່ງ"
    ),
)
# A routine request (another day, a form): low unless something else is at stake.
ROUTINE = phrases(
    en=(
        "reschedule|postpone|rebook|another day|change the date|change my appointment"
        "|move my appointment|new appointment|later slot|push the|delay our"
    ),
    th="เลื่อนนัด|ขอเลื่อน|เลื่อนวัน|เปลี่ยนวัน|นัดใหม่|จองคิว|อยากเลื่อน",
    lo="ເລື່ອນນັດ|ຂໍເລື່ອນ|ເລື່ອນມື້|ປ່ຽນມື້|ນັດໃໝ່|ຈອງຄິວ|ຢາກເລື່ອນ",
)
# Asking for a claim or compensation: the administrative route, and no emergency by itself.
CLAIM = phrases(
    en=(
        "compensation|claim|claims|clame|relief money|relief grant|relief payment"
        "|relief application|apply for|appeal|reimburse|reimbursement|insurance|subsidy"
        "|cash assistance|flood relief|relief fund|cash relief|payout|entitled to|eligible for"
    ),
    th="ชดเชย|เยียวยา|เคลม|ยื่นขอ|ยื่นเรื่อง|ลงทะเบียนผู้ประสบภัย|เงินช่วยเหลือ|อุทธรณ์|ประกัน",
    lo="ຊົດເຊີຍ|ເຄລມ|ຍື່ນຂໍ|ຍື່ນເລື່ອງ|ລົງທະບຽນ|ເງິນຊ່ວຍເຫຼືອ|ອຸທອນ|ປະກັນ",
)
# Asking for something, in any language: a supplies word counts only in a reply that asks
# ("rice fields under water" is a report; "ขอข้าวสาร" asks). Unlike ``REQUEST`` it decides
# no level, so Thai and Lao ต้องการ / ຕ້ອງການ can be in it. No English phrase here may start
# inside another signal's phrase ("any help" would hide "help"): whole-word matching takes the
# longest phrase at a word and moves past it.
ASKING = phrases(
    en=(
        "need|needs|needed|please|pls|plz|send|requesting|request|want|can we get|can i get"
        "|where can|is there|give us|bring|running out|where is|where's|nearest|how to get|can a"
        "|can someone|could someone|can you|could you"
    ),
    th="ขอ|ต้องการ|อยากได้|ช่วยส่ง|ส่ง|ขาด|หมดแล้ว|ได้ไหม|ได้มั้ย|อยู่ไหน|ที่ไหน",
    lo="ຂໍ|ຕ້ອງການ|ຢາກໄດ້|ຊ່ວຍສົ່ງ|ສົ່ງ|ຂາດ|ໝົດແລ້ວ|ໄດ້ບໍ|ຢູ່ໃສ|ບ່ອນໃດ",
)
# Someone out of reach, still inside or taken by the water: with a named person ("my son",
# "grandfather"), danger to life ("haven't heard from my son since noon", "the current took the
# boat with my uncle"). Alone it decides nothing: "can't find my ID card" is no emergency.
OUT_OF_REACH = phrases(
    en=(
        "can't find|cant find|cannot find|can't reach|cant reach|cannot reach|haven't heard from"
        "|havent heard from|no news from|no news of|lost contact|hasn't come back"
        "|hasnt come back|didn't come back|didnt come back|never came back|not back yet"
        "|hasn't returned|has not returned|flood took|water took|river took|current took"
        "|carried away|carried off|still inside|stuck inside"
    ),
)
# A person named by who they are to the writer (completes ``OUT_OF_REACH``).
RELATIVE = phrases(
    en=(
        "brother|sister|son|daughter|father|mother|mom|mum|dad|husband|wife|child|kid|boy|girl"
        "|uncle|aunt|cousin|nephew|niece|grandson|granddaughter|neighbour|neighbor|friend"
    ),
)
# Software the reply is about, and what goes wrong with it: together, a technical problem
# whatever else the reply mentions ("the claim form won't submit" is for live chat).
SOFTWARE = phrases(
    en=(
        "app|website|site|page|link|form|portal|chat|map|login|dashboard|system|server|api"
        "|invoices|reports|export|data|code|otp|email"
    ),
)
FAULT = phrases(
    en=(
        "not working|isn't working|doesn't work|does not work|broken|wrong|expired|error"
        "|down|crashed|crashes|crashing|won't load|wont load|not loading|won't open|can't open"
        "|cannot open|can't get|cannot get|cant get|can't download|cannot download|blank"
        "|frozen|freezes|stuck|failed|fails|won't submit|can't submit|cannot submit"
    ),
)
# Faults that name software by themselves.
SOFTWARE_FAULT = phrases(
    en=(
        "logging me out|logs me out|logged me out|error message|error code|page not found"
        "|keeps crashing|search results|site is down|app is down|website is down"
        # Many people locked out at once is an outage, not one account's problem.
        "|staff locked out|staff are locked out|users locked out|users are locked out"
        "|everyone is locked out|everyone locked out|all locked out|we are all locked out"
        "|nobody can log in|no one can log in|nobody can sign in|no one can sign in"
    ),
)
# Locked out: with many people affected ("all staff", "2,000 users"), an outage.
LOCKOUT = phrases(
    en="locked out|can't log in|cannot log in|cant log in|can't sign in|cannot sign in|can't login"
)
# Asking for something from one's account: a refund, credits, cancelling (the account route).
ACCOUNT_REQUEST = phrases(
    en=(
        "cancel our subscription|cancel my subscription|cancel the subscription|cancel our plan"
        "|cancel my plan|cancel our contract|close our account|close my account|refund"
        "|money back|credits|sla credits|service credits|entitled to|eligible for"
    ),
    th="คืนเงิน|ยกเลิกสมาชิก|ยกเลิกการสมัคร",
    lo="ຄືນເງິນ|ຍົກເລີກສະມາຊິກ|ຍົກເລີກການສະໝັກ",
)
# Longer Thai words that hide a shorter phrase: ยาย (grandmother) in ขยาย (to extend), หมอ
# (doctor) in หมอก (fog) and หมอน (pillow). They are masked before phrases are looked up.
HIDING_WORDS = ("ขยาย", "หมอก", "หมอน")
# Words that cancel the harm phrase right after them ("no one was hurt", "not injured").
NEGATIONS_EN = frozenset(
    {
        *("no", "not", "nobody", "none", "never", "without", "noone"),
        *("isn't", "wasn't", "aren't", "weren't", "didn't", "hasn't"),
    }
)
# Harm to animals or things is not danger to life ("ควายตาย" a buffalo died, "ນາເຂົ້າຈົມນ້ຳ").
NOT_PEOPLE_EN = frozenset(
    {
        *("buffalo", "buffaloes", "pig", "pigs", "cow", "cows", "cattle", "livestock", "chickens"),
        *("crops", "motorbike", "results", "items", "records", "files", "payments", "invoices"),
    }
)
NOT_PEOPLE_TH_LO = (
    *("ควาย", "หมู", "วัว", "ไก่", "ปลา", "นาข้าว", "ข้าวในนา", "มอเตอร์ไซค์", "สัตว์"),
    *("ຄວາຍ", "ໝູ", "ງົວ", "ໄກ່", "ປາ", "ນາເຂົ້າ", "ລົດຈັກ", "ສັດ"),
)
NEGATIONS_TH_LO = ("ไม่มีใคร", "ไม่มีคน", "ไม่ได้", "ไม่", "ບໍ່ມີໃຜ", "ບໍ່ມີຄົນ", "ບໍ່ໄດ້", "ບໍ່")
