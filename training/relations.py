"""The open-domain fact catalog: relation types, how people state and ask them, and their values.

A relation is one kind of fact worth keeping: "user allergy" (a person's life, stated in the first
person in a chat) or "<room> door code" (a document's fact about some subject, stated in the third
person). Each has at least four natural ways to state it, at least three ways to ask it in other
words, one answer form and exactly one note form "subject relation: value" ("user allergy:
peanuts", "north archive room door code: 7319").

Two splits keep the evaluation honest:
- by relation type: `HELDOUT` relation types (about one in five of each domain, chosen by a fixed
  hash of the name, never one of the benchmark's chat slots) are never trained on;
- by value: every value (and every document subject) is drawn from the train or the test part of
  its space by the benchmark's own stable hash (`memgpt.synth.facts._is_test`), so test values
  never occur in training, and training values are drawn from pools so large (fresh pseudo-words
  mixed into every finite pool) that copying is the only strategy. A few closed sets (weekdays,
  blood groups, seat kinds, dress codes) cannot be split and are named in `CLOSED_KINDS`.

Multi-valued facts are one note ("user sons: Jonah, Mateo"); an update is a later statement
("Actually, I moved to Oslo last month.") whose note has the same key and the new value.
Pure Python: no torch, no tokenizer.
"""
from __future__ import annotations

import functools
import json
import os
import random
import re
import string
import zlib
from dataclasses import dataclass
from typing import Callable, Sequence

from memgpt.synth.facts import _is_test, name_word, pseudo_word

SPLITS = ("train", "test")


def split_ok(value: str, split: str) -> bool:
    """Whether `value` belongs to `split` (the benchmarks' stable 1-in-5 hash split)."""
    if split not in SPLITS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    return _is_test(value) == (split == "test")


# ---------------------------------------------------------------------------------------------
# finite pools (written for this project), split by value


def _words(text: str) -> tuple[str, ...]:
    return tuple(w.strip() for w in text.split("|") if w.strip()) if "|" in text else tuple(text.split())


FIRST_NAMES = _words("""
Aaliyah Abel Ada Adele Adrian Agnes Ahmed Aiko Aisha Alba Alberto Aleksander Alexei Alfie Alice Alma Amara Amir Anders
Andrea Anika Anton Arjun Astrid Aurora Axel Ayla Bashir Beatriz Bela Benedikt Bianca Bjorn Bodhi Bruno Camila Carmen Caspar
Cecilia Celeste Chen Chiara Cillian Clara Colm Dalia Damian Dara Dario Dawit Delphine Diego Dimitri Dmitri Elif Elio Eliza
Elsa Emeka Emil Emre Enzo Esme Esther Ethan Fatima Felix Femi Fenna Filip Fiona Florian Freya Gabriel Gael Greta Gus Hana
Hannes Harriet Hassan Hedda Helena Henrik Hiro Hugo Ida Idris Ilse Imani Ines Ingrid Ion Iris Isak Ivan Ivo Jael Jalen
Jamal Janek Jasper Javier Jonah Jorge Joaquin Jonas Juno Kai Kalani Kamala Karim Kasia Keanu Kenji Kiara Kofi Kwame Lars
Laszlo Layla Lena Leon Lior Lisbet Lorenzo Luca Lucia Ludmila Luis Lukas Mads Maeve Magnus Malik Mara Marek Marisol Marta
Mateo Matilda Maxim Maya Mehmet Mei Mika Milo Mina Mira Miriam Naledi Nadia Naomi Nasser Nico Niamh Nikhil Nils Noor Nora
Odette Olek Olga Omar Orla Oskar Otto Paloma Pavel Pedro Petra Pia Priya Quentin Rafael Rahul Ramona Ravi Reza Rhea Rina
Rohan Rosa Rui Rumi Saanvi Sabine Salma Samir Sanna Santiago Sara Selin Seo-yeon Shira Signe Silas Simone Sofia Soren
Stellan Sunita Suvi Tamar Tariq Teodor Thea Tobias Tomas Umar Una Valentina Vera Viggo Vikram Wanjiru Wren Xavier Yara
Yasmin Yusuf Zainab Zara Zeynep Zoltan Bettina Corentin Doreen Evander Fabiola Gideon Hollis Ingeborg Jovana Kestrel
Leocadia Marit Nuno Ottilie Perpetua Radomir Sevda Tobiah Ulla Verity Wilhelmina Xiomara Yorick Zdenka Anouk Berit Cosima
Dagny Eamon Folasade Gunnar Hamza Ilona Jarek Kalinda Lowri Mirela Noemi Orrin Piet Ragnhild Sunniva Taavi Ugo Vesna
""")
SURNAMES = _words("""
Abara Achterberg Adeyemi Agarwal Alvarez Amundsen Andersen Aranda Asante Bakker Balogun Barros Becker Bergstrom Bianchi
Blackwood Bohm Brennan Carvalho Castellano Chaudhry Chen Cizek Costa Dalton Delacroix Demir Dimitrov Dubois Duarte Eklund
Esposito Farouk Ferreira Fischer Fitzgerald Fontaine Galloway Garcia Gashi Gonzaga Gruber Haddad Halvorsen Hartmann
Hashemi Hoffmann Horvath Ibarra Iyer Jablonski Jansen Jovanovic Kaminski Kapoor Karlsson Kaur Keller Kimura Kowalski
Kruger Kuznetsov Lachance Laine Lambert Larsen Lindqvist Lopez Lund Madsen Mahlangu Marchetti Markovic Mendes Meyer
Moreau Morrison Nakamura Navarro Nielsen Novak Nowak Nunez Obi Odhiambo Okafor Okonkwo Oliveira Olsen Ortiz Osei Ozturk
Papadopoulos Park Patel Pereira Petrov Pham Popescu Quinn Rahman Ramirez Reyes Richter Rios Rossi Ruiz Sadeghi Salazar
Santos Sato Schmidt Schneider Serrano Shah Sokolov Soto Stewart Suzuki Szabo Tanaka Tavares Teixeira Thorsen Torres
Tran Tshabalala Urquhart Valdez Varga Vasquez Vogel Volkov Wagner Walsh Weber Whitfield Wieczorek Yamada Yilmaz Yusuf
Zeller Zhang Zielinski Abernathy Baptiste Castro Drummond Eriksen Falk Garrido Holm Ivanova Juarez Kovac Lindgren Marsh
Nakashima Oyelaran Pacheco Quist Rasmussen Sandoval Toivonen Ulloa Vance Wexler Yoon Zamora Aldana Bramwell Crowe
Dunmore Ellery Fairweather Gathii Hargreaves Ingram Jessop Kilbride Lockhart Mwangi Northcott Orsini Penhaligon
Radcliffe Saltonstall Thackeray Underhill Vasilev Wainwright Yardley Zubiri
""")
CITIES = _words("""
Aarhus|Accra|Adelaide|Albuquerque|Alicante|Amsterdam|Antwerp|Asheville|Auckland|Austin|Baltimore|Bangalore|Barcelona|
Bergen|Bilbao|Birmingham|Bologna|Boise|Bordeaux|Boston|Bratislava|Brisbane|Bristol|Brno|Brussels|Bucharest|Budapest|
Buenos Aires|Cairo|Calgary|Cape Town|Cardiff|Cartagena|Casablanca|Chennai|Chicago|Cork|Curitiba|Dakar|Dallas|Delft|
Denver|Dhaka|Dublin|Dundee|Durban|Edinburgh|Eindhoven|Florence|Fukuoka|Galway|Gdansk|Geneva|Genoa|Ghent|Glasgow|
Gothenburg|Granada|Graz|Guadalajara|Halifax|Hamburg|Hanoi|Helsinki|Hobart|Honolulu|Houston|Innsbruck|Istanbul|Izmir|
Jaipur|Kampala|Kaunas|Kigali|Kingston|Kraków|Kyoto|Lagos|Leeds|Leipzig|Leuven|Lille|Lima|Lisbon|Ljubljana|Lyon|Madison|
Malmö|Manchester|Marseille|Medellín|Melbourne|Memphis|Milan|Minneapolis|Montevideo|Montreal|Mumbai|Munich|Nairobi|Nantes|
Naples|Nashville|Newcastle|Nice|Nottingham|Oaxaca|Oslo|Ottawa|Oulu|Oxford|Palermo|Perth|Philadelphia|Pittsburgh|Porto|
Portland|Poznań|Prague|Pune|Quebec City|Quito|Raleigh|Recife|Reykjavik|Riga|Rotterdam|Sacramento|Salzburg|San Diego|
Santiago|Sapporo|Seattle|Seville|Sheffield|Singapore|Sofia|Split|Stavanger|Stockholm|Strasbourg|Stuttgart|Swansea|
Tallinn|Tampere|Tartu|Tbilisi|Thessaloniki|Toulouse|Trondheim|Tucson|Tunis|Turin|Turku|Utrecht|Valencia|Valparaíso|
Vancouver|Verona|Vienna|Vilnius|Warsaw|Wellington|Winnipeg|Wrocław|York|Zagreb|Zaragoza|Zurich|Aberdeen|Bremen|Bruges|
Coimbra|Dijon|Freiburg|Lausanne|Lucerne|Mannheim|Nuremberg|Odense|Padua|Reims|Rouen|Siena|Uppsala|Ghent|Kingsport|Mombasa
""")
ALLERGENS = _words("""
peanuts|tree nuts|shellfish|sesame|soy|eggs|milk|wheat|mustard|celery|lupin|sulphites|penicillin|amoxicillin|sulfa drugs|
aspirin|ibuprofen|codeine|latex|bee stings|wasp stings|cat dander|dog hair|pollen|dust mites|mould|nickel|kiwi|strawberries|
mango|avocado|buckwheat|cashews|pistachios|walnuts|hazelnuts|almonds|pecans|crab|lobster|shrimp|mussels|oysters|squid|
chickpeas|lentils|peaches|cherries|apples|tomatoes|garlic|onions|cinnamon|chamomile|coconut|oats|corn|gelatin|
erythromycin|cephalosporins|iodine contrast|adhesive plasters|wool|fragrance|horses|feathers|grass pollen|birch pollen
""")
MEDICATIONS = _words("""
metformin lisinopril atorvastatin levothyroxine amlodipine omeprazole simvastatin losartan albuterol gabapentin sertraline
escitalopram fluoxetine bupropion citalopram montelukast rosuvastatin pantoprazole furosemide tamsulosin meloxicam
prednisone warfarin apixaban rivaroxaban clopidogrel carvedilol metoprolol propranolol hydrochlorothiazide spironolactone
lamotrigine levetiracetam topiramate sumatriptan cetirizine loratadine fexofenadine allopurinol colchicine methotrexate
hydroxychloroquine insulin glipizide sitagliptin empagliflozin trazodone mirtazapine venlafaxine duloxetine quetiapine
aripiprazole lithium buspirone zolpidem melatonin ferrous-sulfate folic-acid thiamine finasteride latanoprost budesonide
fluticasone salbutamol tiotropium doxycycline nitrofurantoin valacyclovir ondansetron ranitidine famotidine estradiol
""")
CONDITIONS = _words("""
asthma|type 1 diabetes|type 2 diabetes|high blood pressure|migraines|coeliac disease|Crohn's disease|ulcerative colitis|
eczema|psoriasis|arthritis|rheumatoid arthritis|gout|hypothyroidism|an underactive thyroid|epilepsy|sleep apnoea|
tinnitus|glaucoma|anaemia|atrial fibrillation|a heart murmur|lupus|multiple sclerosis|fibromyalgia|endometriosis|
polycystic ovaries|irritable bowel syndrome|chronic back pain|a bad knee|osteoporosis|scoliosis|vertigo|Raynaud's|
ADHD|dyslexia|colour blindness|a pacemaker|kidney stones|high cholesterol|hay fever|plantar fasciitis|a slipped disc|
long COVID|tendonitis|carpal tunnel syndrome|restless legs|rosacea
""")
DIETS = _words("vegetarian|vegan|pescatarian|halal|kosher|gluten-free|dairy-free|low-carb|keto|paleo|low-sodium|"
               "low-FODMAP|plant-based|sugar-free|nut-free|Mediterranean|low-fat|raw-food|flexitarian|egg-free")
FOODS = _words("""
lasagne|paella|ramen|pad thai|falafel|tacos al pastor|moussaka|pierogi|biryani|jollof rice|shakshuka|risotto|pho|
bibimbap|goulash|empanadas|ceviche|dumplings|mac and cheese|fish and chips|sushi|curry laksa|tagine|gnocchi|burritos|
enchiladas|kimchi stew|souvlaki|carbonara|banh mi|lentil soup|borscht|poutine|chili con carne|fried rice|spanakopita|
clam chowder|meatballs|pancakes|waffles|halloumi|tiramisu|cheesecake|apple pie|crème brûlée|baklava|churros|mochi|
brownies|lemon tart|ratatouille|tortilla española|arancini|okonomiyaki|katsu curry|mapo tofu|jerk chicken|feijoada|
khachapuri|pelmeni|dal makhani|chana masala|gyoza|udon|polenta|quiche|roast chicken|beef stew|shepherd's pie|couscous
""")
DRINKS = _words("""
oat flat white|double espresso|cortado|cappuccino|black americano|iced latte|chai latte|matcha latte|green tea|
earl grey|rooibos|peppermint tea|hot chocolate|sparkling water|ginger beer|kombucha|orange juice|lemonade|
mango lassi|cold brew|macchiato|mocha|decaf latte|oolong|yerba mate|iced tea|elderflower cordial|tomato juice|
apple cider|ginger tea|turmeric latte|soy cappuccino|almond milk latte|lungo|ristretto|cafe au lait|masala chai|
""")
CUISINES = _words("Thai|Ethiopian|Vietnamese|Lebanese|Korean|Peruvian|Georgian|Sichuan|Oaxacan|Greek|Turkish|"
                  "Japanese|Indian|Sri Lankan|Moroccan|Nigerian|Persian|Basque|Neapolitan|Cantonese|Malaysian|"
                  "Indonesian|Filipino|Brazilian|Cuban|Jamaican|Polish|Hungarian|Portuguese|Tunisian|Nepalese|"
                  "Burmese|Uzbek|Armenian|Syrian|Yemeni|Senegalese|Ghanaian|Taiwanese|Catalan")
COLOURS = _words("""
red blue green yellow purple orange pink black white grey brown teal navy maroon olive turquoise lavender crimson
scarlet amber gold silver beige ivory coral salmon mint emerald indigo violet magenta burgundy mustard ochre khaki
charcoal cobalt saffron cerulean lilac peach sage rust plum
""")
HOBBIES = _words("""
bouldering|birdwatching|pottery|woodworking|knitting|sourdough baking|trail running|sea swimming|chess|origami|
beekeeping|calligraphy|fly fishing|astronomy|geocaching|rowing|fencing|salsa dancing|kayaking|gardening|
watercolour painting|film photography|stand-up paddling|rock climbing|orienteering|quilting|archery|bookbinding|
model railways|home brewing|mountain biking|jigsaw puzzles|crosswords|tai chi|yoga|lino printing|embroidery|
skateboarding|surfing|wild camping|foraging|bonsai|bird photography|amateur radio|stamp collecting|coin collecting|
ceramics|glassblowing|candle making|leatherwork|juggling|cross-country skiing|ice skating|sailing|scuba diving|
""")
INSTRUMENTS = _words("""
cello|violin|viola|double bass|piano|guitar|bass guitar|drums|trumpet|trombone|saxophone|clarinet|flute|oboe|bassoon|
harp|ukulele|banjo|mandolin|accordion|harmonica|French horn|tuba|bagpipes|sitar|tabla|oud|steel pan|marimba|recorder|
""")
SPORTS = _words("football|basketball|tennis|badminton|squash|volleyball|handball|cricket|rugby|hockey|baseball|"
                "table tennis|golf|netball|water polo|ultimate frisbee|padel|lacrosse|curling|cycling|swimming|"
                "athletics|judo|karate|boxing|climbing|rowing|triathlon|skiing|snowboarding")
LANGUAGES = _words("""
Spanish|French|German|Italian|Portuguese|Dutch|Swedish|Norwegian|Danish|Finnish|Polish|Czech|Hungarian|Romanian|Greek|
Turkish|Arabic|Hebrew|Farsi|Hindi|Urdu|Bengali|Tamil|Telugu|Punjabi|Mandarin|Cantonese|Japanese|Korean|Vietnamese|Thai|
Indonesian|Malay|Tagalog|Swahili|Amharic|Yoruba|Igbo|Zulu|Xhosa|Russian|Ukrainian|Serbian|Croatian|Slovak|Lithuanian|
Latvian|Estonian|Icelandic|Irish|Welsh|Catalan|Basque|Galician|Georgian|Armenian|Kurdish|Pashto|Nepali|Sinhala
""")
JOBS = _words("""
architect|nurse|paramedic|pharmacist|midwife|physiotherapist|radiographer|dentist|optician|veterinarian|surgeon|
anaesthetist|software engineer|data analyst|web developer|systems administrator|product manager|UX designer|
graphic designer|copywriter|journalist|editor|translator|librarian|archivist|museum curator|teacher|lecturer|
school counsellor|social worker|lawyer|paralegal|accountant|auditor|actuary|economist|financial planner|bank teller|
electrician|plumber|carpenter|welder|bricklayer|roofer|locksmith|mechanic|pilot|air traffic controller|flight attendant|
train driver|bus driver|ship's engineer|chef|pastry chef|baker|barista|sommelier|butcher|florist|farmer|forester|
landscape gardener|park ranger|geologist|chemist|biologist|lab technician|statistician|surveyor|civil engineer|
mechanical engineer|electrical engineer|urban planner|interior designer|photographer|film editor|sound engineer|
composer|violin teacher|dance instructor|personal trainer|firefighter|police officer|probation officer|
occupational therapist|speech therapist|psychologist|dietitian|zookeeper|beekeeper|tailor|jeweller|bookseller|
estate agent|recruiter|HR manager|project manager|operations manager|logistics coordinator|warehouse supervisor|
customer support agent|sales representative|marketing manager|event planner|tour guide|hotel receptionist|
""")
DEPARTMENTS = _words("payments|logistics|procurement|research|compliance|customer success|infrastructure|security|"
                     "billing|onboarding|data platform|marketing|finance|legal|facilities|quality assurance|design|"
                     "mobile|growth|partnerships|supply chain|analytics|field operations|training|accounts")
SUBJECTS = _words("chemistry|physics|history|economics|linguistics|philosophy|mathematics|biology|geology|"
                  "architecture|nursing|law|music|fine art|computer science|civil engineering|marine biology|"
                  "anthropology|psychology|sociology|classics|agriculture|statistics|astrophysics|pharmacology|"
                  "journalism|French literature|political science|geography|veterinary medicine|archaeology|"
                  "graphic design|environmental science|education|public health|theology studies|dentistry")
PET_SPECIES = _words("dog|cat|rabbit|guinea pig|hamster|budgie|cockatiel|parrot|tortoise|bearded dragon|gecko|"
                     "corn snake|ferret|chinchilla|goldfish|axolotl|hedgehog|rat|gerbil|canary|pony|donkey|"
                     "greyhound|dachshund|border collie|Maine Coon|tabby cat|labrador|spaniel|poodle|whippet|"
                     "Siamese cat|sheepdog|tarantula|hermit crab|koi carp")
CAR_MAKES = _words("Toyota|Honda|Subaru|Mazda|Volkswagen|Skoda|Volvo|Renault|Peugeot|Citroën|Fiat|Ford|Kia|"
                   "Hyundai|Nissan|Tesla|BMW|Audi|Mercedes|Mini|Seat|Dacia|Opel|Suzuki|Mitsubishi|Jeep|Lexus|Saab|"
                   "Alfa Romeo|Cupra|Polestar|Rivian|Lancia|Chevrolet|Buick")
BRANDS = _words("Pixel|Galaxy|iPhone|Xperia|Moto|Nokia|Fairphone|ThinkPad|MacBook|Surface|XPS|Zenbook|Framework|"
                "Chromebook|Kindle|Kobo|OnePlus|Redmi")
GENRES = _words("jazz|bluegrass|techno|Afrobeat|bossa nova|baroque music|punk|folk|hip hop|reggae|flamenco|"
                "ambient|soul|funk|blues|K-pop|gospel choirs|shoegaze|drum and bass|opera|cumbia|highlife|"
                "synthwave|grunge|country|disco|ska|tango|klezmer|city pop")
FLOWERS = _words("peonies|tulips|sunflowers|daffodils|lilies|orchids|dahlias|ranunculus|freesias|hydrangeas|"
                 "anemones|camellias|lilacs|irises|gerberas|snapdragons|sweet peas|marigolds|poppies|cornflowers|"
                 "magnolias|gardenias|carnations|chrysanthemums|forget-me-nots|lavender|foxgloves|zinnias")
ADJECTIVES = _words("quiet silver hollow amber northern broken little golden crooked patient restless distant "
                    "hidden wild burning winter paper velvet iron salt copper glass midnight lonely secret "
                    "crimson gentle electric frozen sunken")
NOUNS = _words("harbour lantern orchard meridian river garden compass lighthouse forest mirror island valley "
               "kingdom signal ember feather window horizon archive shadow tide engine anchor meadow bridge "
               "tower letter season comet canyon")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
BLOOD_TYPES = ("A positive", "A negative", "B positive", "B negative", "AB positive", "AB negative", "O positive",
               "O negative")
SEATS = ("window", "aisle", "exit row", "front row", "bulkhead")
DRESS_CODES = ("black tie", "business casual", "smart casual", "cocktail attire", "lounge suits", "white tie",
               "fancy dress", "all white", "festive", "come as you are")
_PLACES_PREP = ("under", "behind", "inside", "beneath", "on top of", "next to")
_PLACES_OBJ = _words("flowerpot|doormat|garden gnome|loose brick|mailbox|drainpipe|watering can|bird feeder|"
                     "woodpile|porch light|shoe rack|recycling bin|bench|stone frog|rain barrel|bike shed|"
                     "kitchen drawer|sock drawer|biscuit tin|bookshelf|desk drawer|filing cabinet|wardrobe|"
                     "bread bin|fuse box|tool box|jewellery box|coat pocket|glovebox|safe")
_STREET_TYPES = ("Street", "Road", "Lane", "Avenue", "Close", "Way", "Drive", "Terrace", "Crescent", "Place", "Row")
_TREES = _words("Oak Elm Ash Birch Willow Maple Rowan Hazel Alder Linden Cedar Poplar Juniper Chestnut Hawthorn Larch")


@functools.lru_cache(maxsize=None)
def pool(name: str, split: str) -> tuple[str, ...]:
    """A finite pool's part for `split`."""
    return tuple(v for v in POOLS[name] if split_ok(v, split))


POOLS: dict[str, tuple[str, ...]] = {
    "first_name": FIRST_NAMES, "surname": SURNAMES, "city": CITIES, "allergen": ALLERGENS,
    "medication": tuple(m.replace("-", " ") for m in MEDICATIONS), "condition": CONDITIONS, "diet": DIETS,
    "food": FOODS, "drink": DRINKS, "cuisine": CUISINES, "colour": COLOURS, "hobby": HOBBIES,
    "instrument": INSTRUMENTS, "sport": SPORTS, "language": LANGUAGES, "job": JOBS, "department": DEPARTMENTS,
    "subject": SUBJECTS, "pet_species": PET_SPECIES, "car_make": CAR_MAKES, "brand": BRANDS, "genre": GENRES,
    "flower": FLOWERS,
}


# ---------------------------------------------------------------------------------------------
# value generators: (rng, split) -> str. `draw_value` keeps only values of the split.

FRESH_SHARE = 0.35  # of values from a finite pool replaced by a fresh word in training


def _from_pool(name: str, fresh: Callable[[random.Random, str], str] | None = None) -> Callable:
    def gen(rng: random.Random, split: str) -> str:
        if fresh is not None and split == "train" and rng.random() < FRESH_SHARE:
            return fresh(rng, split)
        return rng.choice(pool(name, split))
    return gen


def _fresh_lower(rng: random.Random, split: str) -> str:
    return pseudo_word(rng, split)


def _fresh_name(rng: random.Random, split: str) -> str:
    return name_word(rng, split)


def _first(rng, split):
    return rng.choice(pool("first_name", split)) if rng.random() < 0.7 else name_word(rng, split)


def _surname(rng, split):
    return rng.choice(pool("surname", split)) if rng.random() < 0.7 else name_word(rng, split)


def _full_name(rng, split):
    return f"{_first(rng, split)} {_surname(rng, split)}"


def _doctor(rng, split):
    return f"Dr. {_surname(rng, split)}" if rng.random() < 0.7 else f"Dr. {_first(rng, split)} {_surname(rng, split)}"


def _city(rng, split):
    return rng.choice(pool("city", split)) if rng.random() < 0.75 else name_word(rng, split)


def _digits(n_lo: int, n_hi: int) -> Callable:
    def gen(rng, split):
        n = rng.randint(n_lo, n_hi)
        return "".join(rng.choice(string.digits) for _ in range(n))
    return gen


def _address(rng, split):
    street = rng.choice(_TREES + pool("surname", split)) if rng.random() < 0.6 else name_word(rng, split)
    s = f"{rng.randint(1, 2400)} {street} {rng.choice(_STREET_TYPES)}"
    if rng.random() < 0.3:
        s += f", apartment {rng.randint(1, 40)}{rng.choice('ABCDEF')}"
    return s


def _phone(rng, split):
    d = lambda n: "".join(rng.choice(string.digits) for _ in range(n))  # noqa: E731
    return rng.choice([f"+44 7{d(3)} {d(6)}", f"({rng.randint(201, 989)}) {d(3)}-{d(4)}", f"06 {d(2)} {d(2)} {d(2)} {d(2)}",
                       f"+49 151 {d(4)} {d(4)}", f"0{d(3)} {d(3)} {d(4)}", f"+1 {rng.randint(201, 989)} {d(3)} {d(4)}",
                       f"+31 6 {d(4)} {d(4)}", f"07{d(3)} {d(3)} {d(3)}"])


def _domain(rng, split):
    return pseudo_word(rng, split) + rng.choice([".com", ".net", ".org", ".io", ".co.uk", ".de", ".nl", ".fr"])


def _email(rng, split):
    first, last = _first(rng, split).lower(), _surname(rng, split).lower()
    local = rng.choice([f"{first}.{last}", f"{first[0]}{last}", f"{first}{rng.randint(1, 99)}", f"{first}_{last}"])
    return f"{local}@{_domain(rng, split)}".replace(" ", "").replace("'", "")


def _date(rng, split):
    m, day = rng.choice(MONTHS), rng.randint(1, 28)
    return f"{m} {day}" if rng.random() < 0.75 else f"{day} {m}"


def _date_year(rng, split):
    m, day, y = rng.choice(MONTHS), rng.randint(1, 28), rng.randint(2024, 2031)
    return f"{m} {day}, {y}" if rng.random() < 0.7 else f"{day} {m} {y}"


def _birth_date(rng, split):
    m, day, y = rng.choice(MONTHS), rng.randint(1, 28), rng.randint(1940, 2015)
    return f"{m} {day}, {y}" if rng.random() < 0.5 else f"{m} {day}"


def _time(rng, split):
    h, mi = rng.randint(1, 12), rng.choice([0, 0, 5, 10, 15, 20, 30, 30, 40, 45, 50])
    if rng.random() < 0.25:
        return f"{rng.randint(0, 23):02d}:{mi:02d}"
    return f"{h}:{mi:02d} {rng.choice(['am', 'pm'])}" if mi or rng.random() < 0.5 else f"{h} {rng.choice(['am', 'pm'])}"


def _weekday_time(rng, split):
    return f"{rng.choice(WEEKDAYS)} at {_time(rng, split)}"


def _datetime(rng, split):
    return f"{rng.choice(WEEKDAYS)}, {_date(rng, split)} at {_time(rng, split)}" if rng.random() < 0.5 else \
        f"{_date(rng, split)} at {_time(rng, split)}"


def _time_range(rng, split):
    return f"{_time(rng, split)} to {_time(rng, split)}"


def _amount(rng, split):
    cur = rng.choice(["$", "$", "€", "£", "CHF ", "kr "])
    n = rng.choice([rng.randint(5, 99), rng.randint(100, 9999), rng.randint(1000, 250000)])
    s = f"{n:,}"
    if rng.random() < 0.2:
        s += f".{rng.randint(0, 99):02d}"
    return cur + s


def _monthly_amount(rng, split):
    n = rng.randint(15, 4000) if rng.random() < 0.8 else rng.randint(15, 400)
    return rng.choice(["$", "$", "€", "£"]) + f"{n:,}" + (f".{rng.randint(0, 99):02d}" if rng.random() < 0.15 else "")


def _price(rng, split):
    n = rng.randint(2, 950)
    return rng.choice(["$", "$", "€", "£"]) + (f"{n}.{rng.choice([0, 49, 50, 95, 99]):02d}" if rng.random() < 0.4 else f"{n}")


def _big_amount(rng, split):
    return rng.choice(["$", "€", "£"]) + f"{rng.randint(20, 9000) * 1000:,}"


def _count(lo: int, hi: int) -> Callable:
    return lambda rng, split: f"{rng.randint(lo, hi):,}"


def _password(rng, split):
    r = rng.random()
    w = lambda: rng.choice(pool("colour", split) + pool("flower", split) + NOUNS) if rng.random() < 0.5 \
        else pseudo_word(rng, split)  # noqa: E731
    if r < 0.35:
        return f"{w()}-{rng.randint(10, 9999)}"
    if r < 0.6:
        return f"{w()}-{w()}-{rng.randint(1, 99)}"
    if r < 0.85:
        return "".join(rng.choice(string.ascii_letters + string.digits + "#!%&*") for _ in range(rng.randint(8, 12)))
    return f"{w().capitalize()}{rng.choice('!#$%&*')}{rng.randint(100, 9999)}"


def _uuid(rng, split):
    h = lambda n: "".join(rng.choice("0123456789abcdef") for _ in range(n))  # noqa: E731
    return f"{h(8)}-{h(4)}-{h(4)}-{h(4)}-{h(12)}" if rng.random() < 0.6 else f"{h(4)}-{h(4)}-{h(4)}"


def _alnum(rng, split):
    n = rng.randint(5, 8)
    return "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(n))


def _ref_code(rng, split):
    a = "".join(rng.choice(string.ascii_uppercase) for _ in range(rng.randint(2, 3)))
    return f"{a}-{rng.randint(100, 99999)}" + (f"-{rng.randint(10, 99)}" if rng.random() < 0.4 else "")


def _plate(rng, split):
    L = lambda n: "".join(rng.choice("ABCDEFGHJKLMNPRSTVWXYZ") for _ in range(n))  # noqa: E731
    return rng.choice([f"{L(2)}{rng.randint(10, 99)} {L(3)}", f"{L(3)}-{rng.randint(100, 999)}",
                       f"{L(1)}{rng.randint(100, 999)} {L(3)}", f"{rng.randint(1, 9)}{L(3)}{rng.randint(100, 999)}"])


def _flight(rng, split):
    return f"{rng.choice(['BA', 'LH', 'AF', 'KL', 'SK', 'IB', 'TP', 'AY', 'UA', 'DL', 'AC', 'EK', 'TK', 'NH', 'QF'])}" \
           f"{rng.choice(['', ' '])}{rng.randint(10, 4999)}"


def _gate(rng, split):
    return f"{rng.choice('ABCDEFGHK')}{rng.randint(1, 60)}"


def _room(rng, split):
    return rng.choice([f"room {rng.randint(1, 9)}.{rng.randint(1, 40):02d}", f"room {rng.randint(100, 999)}",
                       f"room {rng.randint(1, 30)}{rng.choice('ABCD')}"])


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def _floor(rng, split):
    return _ordinal(rng.randint(2, 48))


def _day_of_month(rng, split):
    return _ordinal(rng.randint(1, 28))


def _minutes(rng, split):
    return f"{rng.randint(5, 110)} minutes"


def _dose(rng, split):
    return f"{rng.choice([0.5, 1, 2.5, 5, 10, 12.5, 20, 25, 40, 50, 75, 100, 150, 200, 250, 400, 500, 850, 1000])} " \
           f"{rng.choice(['mg', 'mg', 'mcg', 'ml'])}".replace(".0 ", " ")


def _shoe(rng, split):
    return rng.choice([f"{rng.randint(4, 13)}", f"{rng.randint(4, 12)}.5", f"{rng.randint(35, 47)}"])


def _height(rng, split):
    return f"{rng.randint(4, 6)} foot {rng.randint(0, 11)}" if rng.random() < 0.5 else f"{rng.randint(145, 205)} cm"


def _temperature(rng, split):
    return f"{rng.randint(16, 25)}{rng.choice(['', '.5'])} degrees"


def _year(lo: int, hi: int) -> Callable:
    return lambda rng, split: str(rng.randint(lo, hi))


def _weight(rng, split):
    return f"{rng.randint(2, 9000):,} kg" if rng.random() < 0.7 else f"{rng.randint(1, 40)}.{rng.randint(0, 9)} tonnes"


def _length(rng, split):
    return f"{rng.randint(1, 400)}.{rng.randint(0, 9)} km" if rng.random() < 0.6 else f"{rng.randint(3, 900)} metres"


def _percent(rng, split):
    return f"{rng.randint(1, 95)} percent"


def _ip(rng, split):
    return f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def _combination(rng, split):
    return "-".join(f"{rng.randint(0, 39):02d}" for _ in range(3))


def _company(rng, split):
    base = _surname(rng, split) if rng.random() < 0.5 else name_word(rng, split)
    return f"{base} {rng.choice(['Logistics', 'Labs', 'Holdings', 'Foods', 'Systems', 'Partners', 'Analytics', 'Media', 'Energy', 'Robotics', 'Textiles', 'Insurance', 'Architects', 'Freight', 'Software'])}"


def _venue(rng, split):
    return f"{name_word(rng, split) if rng.random() < 0.5 else _surname(rng, split)} " \
           f"{rng.choice(['Hall', 'House', 'Pavilion', 'Library', 'Gallery', 'Centre', 'Barn', 'Rooms', 'Theatre', 'Lodge'])}"


def _hotel(rng, split):
    n = name_word(rng, split) if rng.random() < 0.5 else _surname(rng, split)
    return rng.choice([f"Hotel {n}", f"the {n} Inn", f"the {n} Grand", f"{n} Suites", f"Casa {n}"])


def _restaurant(rng, split):
    n = name_word(rng, split) if rng.random() < 0.5 else _first(rng, split)
    return rng.choice([f"{n}'s Kitchen", f"Café {n}", f"Trattoria {n}", f"the {n} Bistro", f"{n} Noodle Bar"])


def _pharmacy(rng, split):
    return f"{name_word(rng, split) if rng.random() < 0.5 else _surname(rng, split)} {rng.choice(['Pharmacy', 'Chemist', 'Apothecary'])}"


def _bank(rng, split):
    return f"{name_word(rng, split)} {rng.choice(['Bank', 'Savings', 'Credit Union', 'Building Society'])}"


def _school(rng, split):
    n = name_word(rng, split) if rng.random() < 0.5 else _surname(rng, split)
    return rng.choice([f"{n} University", f"the University of {_city(rng, split)}", f"{n} College", f"{n} Institute of Technology"])


def _kid_school(rng, split):
    n = name_word(rng, split) if rng.random() < 0.5 else _surname(rng, split)
    return rng.choice([f"{n} Primary", f"{n} Academy", f"{n} Elementary", f"St {_first(rng, split)}'s", f"{n} Montessori"])


def _title(rng, split):
    a, n = rng.choice(ADJECTIVES), rng.choice(NOUNS)
    return rng.choice([f"The {a.capitalize()} {n.capitalize()}", f"{a.capitalize()} {n.capitalize()}s",
                       f"The {n.capitalize()} of {name_word(rng, split)}", f"{name_word(rng, split)}'s {n.capitalize()}"])


def _band(rng, split):
    return rng.choice([f"The {rng.choice(ADJECTIVES).capitalize()} {rng.choice(NOUNS).capitalize()}s",
                       f"{name_word(rng, split)} and the {rng.choice(NOUNS).capitalize()}s",
                       f"{name_word(rng, split)} {name_word(rng, split)}"])


def _team_name(rng, split):
    return f"{_city(rng, split)} {rng.choice(['Rovers', 'United', 'Hawks', 'Comets', 'Wanderers', 'Royals', 'Athletic', 'Foxes', 'Mariners', 'Rangers'])}"


def _car(rng, split):
    model = name_word(rng, split) if rng.random() < 0.6 else f"{rng.choice('ACEGKLMQSVXZ')}{rng.randint(1, 9) * 10}"
    return f"{rng.choice(pool('colour', split))} {rng.choice(pool('car_make', split))} {model}" if rng.random() < 0.4 \
        else f"{rng.choice(pool('car_make', split))} {model}"


def _device(rng, split):
    return f"{rng.choice(BRANDS)} {rng.choice([str(rng.randint(3, 15)), name_word(rng, split), rng.choice(['Pro', 'Air', 'Mini', 'Plus']) + ' ' + str(rng.randint(2, 14))])}"


def _wifi_name(rng, split):
    return rng.choice([f"{_surname(rng, split)}_5G", f"{pseudo_word(rng, split)}-net", f"{_surname(rng, split)}Home",
                       f"{name_word(rng, split)}{rng.randint(10, 99)}"])


def _hiding_place(rng, split):
    obj = rng.choice(_PLACES_OBJ)
    adj = rng.choice(pool("colour", split) + ("old", "left-hand", "big", "second")) if rng.random() < 0.6 else ""
    return f"{rng.choice(_PLACES_PREP)} the {adj + ' ' if adj else ''}{obj}"


def _storage_place(rng, split):
    return rng.choice([f"shelf {rng.choice('ABCDEFGH')}{rng.randint(1, 30)}", f"cabinet {rng.randint(1, 40)}, drawer {rng.randint(1, 6)}",
                       f"bay {rng.randint(1, 90)}", f"the {_ordinal(rng.randint(1, 6))}-floor store, rack {rng.randint(1, 20)}"])


def _word(rng, split):
    return pseudo_word(rng, split)


def _team_word(rng, split):
    return rng.choice(pool("department", split)) if rng.random() < 0.6 else pseudo_word(rng, split)


def _theme(rng, split):
    return rng.choice([f"{rng.choice(ADJECTIVES).capitalize()} {rng.choice(NOUNS).capitalize()}s",
                       f"A Night in {_city(rng, split)}", f"{name_word(rng, split)} Dreams",
                       f"The {rng.choice(NOUNS).capitalize()} Years"])


def _app_name(rng, split):
    return f"{name_word(rng, split)}{rng.choice(['', ' ', ''])}{rng.choice(['Sync', 'Desk', 'Note', 'Track', 'Hub', 'Pay'])}"


def _closed(values: Sequence[str]) -> Callable:
    return lambda rng, split: rng.choice(values)


VALUE_KINDS: dict[str, Callable[[random.Random, str], str]] = {
    "first_name": _first, "full_name": _full_name, "doctor": _doctor, "city": _city, "address": _address,
    "phone": _phone, "email": _email, "date": _date, "date_year": _date_year, "birth_date": _birth_date,
    "time": _time, "weekday_time": _weekday_time, "datetime": _datetime, "time_range": _time_range,
    "amount": _amount, "monthly_amount": _monthly_amount, "price": _price, "big_amount": _big_amount, "small_count": _count(2, 40),
    "few": _closed(tuple(str(i) for i in range(1, 10))), "count": _count(20, 5000),
    "big_count": _count(1000, 900000), "digits4": _digits(4, 4), "digits6": _digits(4, 8), "digits3": _digits(3, 4),
    "account": _digits(8, 12), "password": _password, "uuid": _uuid, "alnum": _alnum, "ref_code": _ref_code,
    "plate": _plate, "flight": _flight, "gate": _gate, "room": _room, "floor": _floor, "day_of_month": _day_of_month,
    "minutes": _minutes, "dose": _dose, "shoe": _shoe, "height": _height, "temperature": _temperature,
    "year": _year(1850, 2024), "weight": _weight, "length": _length, "percent": _percent, "ip": _ip,
    "combination": _combination, "company": _company, "venue": _venue, "hotel": _hotel, "restaurant": _restaurant,
    "pharmacy": _pharmacy, "bank": _bank, "university": _school, "kid_school": _kid_school, "title": _title,
    "band": _band, "team_name": _team_name, "car": _car, "device": _device, "wifi_name": _wifi_name,
    "hiding_place": _hiding_place, "storage_place": _storage_place, "word": _word, "team_word": _team_word,
    "theme": _theme, "app": _app_name,
    "allergen": _from_pool("allergen", _fresh_lower), "medication": _from_pool("medication", _fresh_lower),
    "condition": _from_pool("condition", _fresh_lower), "diet": _from_pool("diet"),
    "food": _from_pool("food", _fresh_lower), "drink": _from_pool("drink", _fresh_lower),
    "cuisine": _from_pool("cuisine", _fresh_name), "colour": _from_pool("colour", _fresh_lower),
    "hobby": _from_pool("hobby", _fresh_lower), "instrument": _from_pool("instrument", _fresh_lower),
    "sport": _from_pool("sport", _fresh_lower), "language": _from_pool("language", _fresh_name),
    "job": _from_pool("job", _fresh_lower), "subject": _from_pool("subject", _fresh_lower),
    "pet_species": _from_pool("pet_species", _fresh_lower), "genre": _from_pool("genre", _fresh_lower),
    "flower": _from_pool("flower", _fresh_lower),
    "weekday": _closed(WEEKDAYS), "blood_type": _closed(BLOOD_TYPES), "seat": _closed(SEATS),
    "dress_code": _closed(DRESS_CODES),
}
# sets too small to split by value: both splits draw from all of them (the relation split still holds)
CLOSED_KINDS = frozenset({"weekday", "blood_type", "seat", "dress_code", "few"})


def draw_value(kind: str, rng: random.Random, split: str, avoid: Sequence[str] = ()) -> str:
    """A value of `kind` from `split`'s part of its space (and not in `avoid`)."""
    gen = VALUE_KINDS[kind]
    for _ in range(1000):
        v = gen(rng, split)
        if v not in avoid and (kind in CLOSED_KINDS or split_ok(v, split)):
            return v
    raise RuntimeError(f"value kind {kind!r} yields nothing for split {split!r}")


# ---------------------------------------------------------------------------------------------
# document subjects: what a document fact is about ("the north archive room", "Project Vellan")


@dataclass(frozen=True)
class Subject:
    bare: str  # as in the note's key: "north archive room"
    ref: str   # as in a sentence: "the north archive room"


_ROOMS = _words("archive room|server room|storeroom|print room|plant room|records office|cold store|mail room|"
                "darkroom|boiler room|supply closet|lab|workshop|music room|staff room|loading bay|kiln room|"
                "comms cupboard|vault|bike store|chemical store|reading room|map room|tool crib|clean room")
_ROOM_QUAL = _words("north|south|east|west|upper|lower|old|main|back|basement|second-floor|third-floor|annex|"
                    "rear|garden-level|B-wing|C-wing|library|pharmacy|lab-block")
_ORG_KINDS = ("Trust", "Foundation", "Society", "Council", "Committee", "Association", "Club", "Cooperative", "Guild",
              "Alliance", "Board", "Fund")
_EVENT_KINDS = _words("spring gala|summer fair|annual conference|charity run|book fair|harvest festival|open day|"
                      "staff retreat|winter concert|film night|science fair|awards dinner|hackathon|bake sale|"
                      "tenants' meeting|board retreat|product launch|trade show|reunion|quiz night")
_DEVICES = ("printer", "router", "generator", "scanner", "freezer", "kiln", "projector", "centrifuge", "boiler",
            "spectrometer", "3D printer", "forklift", "lathe", "microscope", "ventilator")
_AGREEMENTS = ("lease", "contract", "service agreement", "licence", "tenancy agreement", "maintenance contract",
               "insurance policy", "supply agreement", "loan agreement", "partnership agreement")
_PRODUCTS = ("kettle", "backpack", "desk lamp", "water filter", "bike light", "thermostat", "headset", "blender",
             "tent", "espresso machine", "smart lock", "air purifier", "e-reader", "camera bag")
_PUBLICATIONS = ("Gazette", "Quarterly", "Review", "Bulletin", "Herald", "Journal", "Courier", "Digest")
_CONTESTS = ("photo contest", "bake-off", "chess open", "poetry prize", "essay competition", "science prize",
             "design award", "regatta", "half marathon", "spelling bee")
_ROLES = ("warehouse manager", "data engineer", "head gardener", "finance director", "lab manager", "site supervisor",
          "office manager", "lead designer", "community organiser", "archivist", "grant officer", "night nurse")


def _subj(bare: str, article: bool = True) -> Subject:
    return Subject(bare, ("the " + bare) if article else bare)


def _room_subject(rng, split):
    r = rng.random()
    if r < 0.6:
        return _subj(f"{rng.choice(_ROOM_QUAL)} {rng.choice(_ROOMS)}")
    if r < 0.85:
        return _subj(f"{rng.choice(_ROOMS)} {rng.choice('ABCDEFGH')}{rng.randint(1, 9) if rng.random() < 0.5 else ''}")
    return _subj(f"{name_word(rng, split)} Building {rng.choice(_ROOMS)}")


def _project_subject(rng, split):
    n = name_word(rng, split)
    return Subject(f"Project {n}", f"Project {n}") if rng.random() < 0.5 else _subj(f"{n} project")


def _org_subject(rng, split):
    n = name_word(rng, split) if rng.random() < 0.6 else _surname(rng, split)
    return _subj(f"{n} {rng.choice(_ORG_KINDS)}")


def _company_subject(rng, split):
    c = _company(rng, split)
    return Subject(c, c)


def _event_subject(rng, split):
    n = name_word(rng, split) if rng.random() < 0.6 else _city(rng, split)
    return _subj(f"{n} {rng.choice(_EVENT_KINDS)}")


def _shipment_subject(rng, split):
    return Subject(*(2 * [f"shipment {_ref_code(rng, split)}"])) if rng.random() < 0.5 else \
        _subj(f"{name_word(rng, split)} order")


def _device_subject(rng, split):
    return _subj(f"{rng.choice(ADJECTIVES + ('second', 'new', 'basement', 'lab'))} {rng.choice(_DEVICES)}") if rng.random() < 0.4 \
        else _subj(f"{name_word(rng, split)} {rng.choice(_DEVICES)}")


def _agreement_subject(rng, split):
    return _subj(f"{name_word(rng, split) if rng.random() < 0.6 else _surname(rng, split)} {rng.choice(_AGREEMENTS)}")


def _building_subject(rng, split):
    return Subject(*(2 * [_venue(rng, split)]))


def _person_subject(rng, split):
    return Subject(*(2 * [_full_name(rng, split)]))


def _product_subject(rng, split):
    return _subj(f"{name_word(rng, split)} {rng.choice(_PRODUCTS)}")


def _case_subject(rng, split):
    return _subj(f"{_surname(rng, split)} case") if rng.random() < 0.5 else \
        _subj(f"{_surname(rng, split)} v. {_surname(rng, split)} case")


def _team_subject(rng, split):
    t = _team_name(rng, split)
    return Subject(t, t)


def _publication_subject(rng, split):
    return _subj(f"{name_word(rng, split) if rng.random() < 0.5 else _city(rng, split)} {rng.choice(_PUBLICATIONS)}")


def _town_subject(rng, split):
    n = name_word(rng, split)
    return Subject(n, n)


def _server_subject(rng, split):
    return _subj(f"{pseudo_word(rng, split)}-{rng.randint(1, 40):02d} server")


def _grant_subject(rng, split):
    return _subj(f"{name_word(rng, split)} {rng.choice(['grant', 'fellowship', 'bursary', 'research award'])}")


def _contest_subject(rng, split):
    return _subj(f"{name_word(rng, split) if rng.random() < 0.5 else _city(rng, split)} {rng.choice(_CONTESTS)}")


def _vehicle_subject(rng, split):
    return _subj(f"{rng.choice(['delivery van', 'minibus', 'pool car', 'tractor', 'ambulance', 'truck'])} {rng.choice('ABCDEFGH')}{rng.randint(1, 30)}")


def _position_subject(rng, split):
    return _subj(f"{name_word(rng, split) if rng.random() < 0.5 else _city(rng, split)} {rng.choice(_ROLES)} position")


def _school_subject(rng, split):
    s = _kid_school(rng, split)
    return Subject(s.removeprefix("the "), s)


def _restaurant_subject(rng, split):
    r = _restaurant(rng, split)
    return Subject(r.removeprefix("the "), r)


def _ship_subject(rng, split):
    return _subj(f"MV {name_word(rng, split)}")


def _software_subject(rng, split):
    a = _app_name(rng, split)
    return Subject(a, a)


SUBJECT_KINDS: dict[str, Callable[[random.Random, str], Subject]] = {
    "room": _room_subject, "project": _project_subject, "org": _org_subject, "company": _company_subject,
    "event": _event_subject, "shipment": _shipment_subject, "device": _device_subject, "agreement": _agreement_subject,
    "building": _building_subject, "person": _person_subject, "product": _product_subject, "case": _case_subject,
    "team": _team_subject, "publication": _publication_subject, "town": _town_subject, "server": _server_subject,
    "grant": _grant_subject, "contest": _contest_subject, "vehicle": _vehicle_subject, "position": _position_subject,
    "school": _school_subject, "restaurant": _restaurant_subject, "ship": _ship_subject, "software": _software_subject,
}


def draw_subject(kind: str, rng: random.Random, split: str) -> Subject:
    for _ in range(1000):
        s = SUBJECT_KINDS[kind](rng, split)
        if split_ok(s.bare, split):
            return s
    raise RuntimeError(f"subject kind {kind!r} yields nothing for split {split!r}")


# ---------------------------------------------------------------------------------------------
# relations


@dataclass(frozen=True)
class Relation:
    """One relation type. Templates use {v} (the value; several values joined "A and B"), {av}
    (the value after "a"/"an"), {n} (how many values, in words), and for
    document facts {s} (the subject as a sentence names it), {S} (capitalised), {sp} (possessive).
    """
    name: str                      # unique: the key for user facts, "<subject kind> <key>" for documents
    domain: str
    key: str                       # the note's key ("user allergy"), or its suffix after the subject ("door code")
    kind: str                      # value kind (VALUE_KINDS)
    statements: tuple[str, ...]
    questions: tuple[str, ...]
    answer: str
    subject: str | None = None     # subject kind (SUBJECT_KINDS) for document facts
    updates: tuple[str, ...] = ()  # statements of a changed value ("Actually, I moved to {v} last month.")
    multi: tuple[int, int] | None = None  # how many values a multi-valued fact holds
    topic: str = ""                # "your allergy": what "I don't have a note about ..." names

    @property
    def is_user(self) -> bool:
        return self.subject is None

    @property
    def split(self) -> str:
        return "test" if self.name in HELDOUT else "train"


def _alts(text: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in text.split("|") if t.strip())


def _user(domain: str, key: str, kind: str, statements: str, questions: str, answer: str, updates: str = "",
          multi: tuple[int, int] | None = None, topic: str = "") -> Relation:
    return Relation(key, domain, key, kind, _alts(statements), _alts(questions), answer, None, _alts(updates),
                    multi, topic or key.replace("user ", "your ", 1))


def _doc(domain: str, subject: str, key: str, kind: str, statements: str, questions: str, answer: str,
         updates: str = "", multi: tuple[int, int] | None = None, topic: str = "") -> Relation:
    return Relation(f"{subject} {key}", domain, key, kind, _alts(statements), _alts(questions), answer, subject,
                    _alts(updates), multi, topic or f"the {key} of {{s}}")


CATALOG: list[Relation] = [
    # ---- identity (the benchmark's chat slots keep their keys: name, city, job, pet, pet name,
    # favourite colour, favourite food, birthday, partner)
    _user("identity", "user name", "first_name",
          "My name is {v}. | I'm {v}, by the way. | Everyone calls me {v}. | Hi, {v} here. | You can call me {v}.",
          "What's my name? | Do you remember what I'm called? | What should you call me? | Who am I?",
          "Your name is {v}.", "Actually, I go by {v} these days. | I changed my name — it's {v} now."),
    _user("identity", "user city", "city",
          "I live in {v}. | I've been living in {v} for a few years now. | Home for me is {v}. | We're based in {v}. | My flat is in {v}.",
          "Where do I live? | Which city am I in? | Where's home for me? | What city do I live in?",
          "You live in {v}.", "Actually, I moved to {v} last month. | We just relocated to {v}. | I don't live in the old place any more — I'm in {v} now."),
    _user("identity", "user hometown", "city",
          "I grew up in {v}. | I was raised in {v}. | My hometown is {v}. | {v} is where I spent my childhood.",
          "Where did I grow up? | What's my hometown? | Where was I raised? | Where did I spend my childhood?",
          "You grew up in {v}."),
    _user("identity", "user birthday", "date",
          "My birthday is {v}. | I was born on {v}. | I celebrate my birthday on {v}. | {v} is my birthday, so mark it down!",
          "When's my birthday? | What day was I born? | When should you wish me happy birthday? | When do I celebrate my birthday?",
          "Your birthday is {v}."),
    _user("identity", "user height", "height",
          "I'm {v} tall. | I stand about {v}. | My height is {v}. | At {v}, I always get the middle seat in photos.",
          "How tall am I? | What's my height? | How tall did I say I was?", "You're {v} tall."),
    _user("identity", "user shoe size", "shoe",
          "My shoe size is {v}. | I wear a size {v} shoe. | I take a {v} in shoes. | Shoes-wise I'm a {v}.",
          "What size shoes do I wear? | What's my shoe size? | Which size should you get me in shoes?",
          "Your shoe size is {v}."),
    _user("identity", "user native language", "language",
          "My first language is {v}. | I grew up speaking {v}. | {v} is my mother tongue. | At home we only ever spoke {v} when I was a kid.",
          "What's my mother tongue? | Which language did I grow up speaking? | What is my first language?",
          "Your first language is {v}."),
    # ---- family
    _user("family", "user partner", "first_name",
          "My partner is {v}. | My partner's name is {v}. | {v} and I have been together for years. | I live with my partner, {v}.",
          "Who is my partner? | What's my partner called? | Who am I together with?",
          "Your partner is {v}.", "I have a new partner now — {v}."),
    _user("family", "user wife", "first_name",
          "My wife's name is {v}. | My wife, {v}, says hello. | I've been married to {v} for ten years; she's wonderful. | {v} is my wife.",
          "What's my wife called? | Who's my wife? | What is my wife's name?", "Your wife is {v}."),
    _user("family", "user husband", "first_name",
          "My husband's name is {v}. | My husband, {v}, does all the cooking. | {v} is my husband. | I married {v} — he's my husband.",
          "What's my husband called? | Who's my husband? | What is my husband's name?", "Your husband is {v}."),
    _user("family", "user son", "first_name",
          "My son is called {v}. | I have a son named {v}. | Our boy {v} just started school. | {v} is my son.",
          "What's my son's name? | What's my boy called? | Who is my son?", "Your son is {v}."),
    _user("family", "user sons", "first_name",
          "I have {n} sons, {v}. | My boys are {v}. | Our sons, {v}, keep us busy. | We've got {n} boys: {v}.",
          "What are my sons' names? | Who are my boys? | What are my sons called?", "Your sons are {v}.",
          "We had another boy this spring, so our sons are {v} now. | Update on the family: the boys are {v}.",
          multi=(2, 3)),
    _user("family", "user daughter", "first_name",
          "My daughter's name is {v}. | I have a daughter called {v}. | Our girl {v} turns six this year. | {v} is my daughter.",
          "What's my daughter called? | Who is my daughter? | What did we name our daughter?", "Your daughter is {v}."),
    _user("family", "user daughters", "first_name",
          "I have {n} daughters, {v}. | My girls are {v}. | Our daughters, {v}, are both at university. | We've got {n} girls: {v}.",
          "What are my daughters' names? | Who are my girls? | What are my daughters called?", "Your daughters are {v}.",
          "We welcomed another girl, so our daughters are {v} now.", multi=(2, 3)),
    _user("family", "user mother", "first_name",
          "My mother's name is {v}. | My mum, {v}, is coming to stay. | {v} is my mom. | My mom is called {v}.",
          "What's my mother's name? | Who is my mum? | What's my mom called?", "Your mother is {v}."),
    _user("family", "user father", "first_name",
          "My father's name is {v}. | My dad, {v}, still works on his boat every weekend. | {v} is my dad. | My dad is called {v}.",
          "What's my father's name? | Who's my dad? | What is my dad called?", "Your father is {v}."),
    _user("family", "user brother", "first_name",
          "My brother's name is {v}. | I have a brother called {v}. | My little brother {v} lives near me. | {v} is my older brother.",
          "What's my brother called? | Who is my brother? | What's my brother's name?", "Your brother is {v}."),
    _user("family", "user sister", "first_name",
          "My sister's name is {v}. | I have a sister called {v}. | My big sister {v} is a total night owl. | {v} is my younger sister.",
          "What's my sister called? | Who's my sister? | What is my sister's name?", "Your sister is {v}."),
    _user("family", "user grandchildren", "first_name",
          "My grandchildren are {v}. | I have {n} grandchildren: {v}. | The grandkids, {v}, visit every summer. | We're proud grandparents of {v}.",
          "Who are my grandchildren? | What are my grandkids called? | What are the names of my grandchildren?",
          "Your grandchildren are {v}.", "We have a new grandchild, so now the grandkids are {v}.", multi=(2, 4)),
    _user("family", "user best friend", "first_name",
          "My best friend is {v}. | {v} has been my best friend since school. | My closest friend is called {v}. | I'd trust {v}, my best friend, with anything.",
          "Who's my best friend? | Who is my closest friend? | What's my best friend's name?", "Your best friend is {v}."),
    _user("family", "user mother-in-law", "first_name",
          "My mother-in-law is called {v}. | {v}, my mother-in-law, is visiting next week. | My partner's mum is {v}. | My mother-in-law's name is {v}.",
          "What's my mother-in-law called? | Who is my partner's mother? | What is my mother-in-law's name?",
          "Your mother-in-law is {v}."),
    _user("family", "user number of children", "few",
          "I have {v} kids. | We've got {v} children. | I'm a parent of {v}. | Our family has {v} children.",
          "How many kids do I have? | How many children do I have? | How big is my family, children-wise?",
          "You have {v} children."),
    _user("family", "user wedding anniversary", "date",
          "Our wedding anniversary is {v}. | We got married on {v}. | {v} is our anniversary. | Every {v} we celebrate our wedding.",
          "When is my anniversary? | When did I get married? | What date is our wedding anniversary?",
          "Your wedding anniversary is {v}."),
    _user("family", "user son birthday", "date",
          "My son's birthday is {v}. | Our boy was born on {v}. | My son turns a year older on {v}. | {v} is my son's birthday.",
          "When is my son's birthday? | When was my boy born? | What date does my son celebrate his birthday?",
          "Your son's birthday is {v}."),
    _user("family", "user daughter school", "kid_school",
          "My daughter goes to {v}. | Our daughter is in year three at {v}. | My girl attends {v}. | My daughter's school is {v}.",
          "Which school does my daughter go to? | Where does my daughter attend school? | What's my daughter's school?",
          "Your daughter goes to {v}.", "My daughter changed schools — she's at {v} now."),
    _user("family", "user babysitter", "first_name",
          "Our babysitter is {v}. | {v} babysits for us on Fridays. | When we go out, {v} looks after the kids. | The kids' sitter is called {v}.",
          "Who is our babysitter? | Who looks after the kids when we go out? | What's the sitter's name?",
          "Your babysitter is {v}."),
    # ---- health
    _user("health", "user allergy", "allergen",
          "I'm allergic to {v}. | Anything with {v} in it gives me hives, so I stay away from it. | I have a bad allergy to {v}. | Just so you know, I get really ill from {v} — it's an allergy. | I react badly to {v}; it's an allergy.",
          "What can't I eat? | Do I have any allergies? | What am I allergic to? | What should I avoid because of my allergy?",
          "You're allergic to {v}."),
    _user("health", "user medication", "medication",
          "I take {v} every morning. | I'm on {v}. | My doctor has me on {v}. | I need to remember my {v} each day.",
          "What medication am I on? | Which meds do I take? | What pill do I take every day?",
          "You take {v}.", "My doctor switched me to {v}. | I'm not on the old pills any more; I take {v} now."),
    _user("health", "user medication dose", "dose",
          "My dose is {v}. | I take {v} of my medication. | The doctor set my dose at {v}. | I'm on {v} a day.",
          "What's my dose? | How much of my medication do I take? | What dose am I on?",
          "Your dose is {v}.", "My dose went up to {v}. | They lowered my dose to {v}."),
    _user("health", "user condition", "condition",
          "I have {v}. | I was diagnosed with {v} a few years ago. | I live with {v}. | I've had {v} since I was a teenager.",
          "What health condition do I have? | What was I diagnosed with? | Do I have any medical conditions?",
          "You have {v}."),
    _user("health", "user blood type", "blood_type",
          "My blood type is {v}. | I'm {v}, blood-wise. | I've got {v} blood. | For the record, my blood group is {v}.",
          "What's my blood type? | Which blood group am I? | If I needed a transfusion, what type am I?",
          "Your blood type is {v}."),
    _user("health", "user doctor", "doctor",
          "My doctor is {v}. | I see {v} for my check-ups. | My GP is {v}. | {v} is my family doctor.",
          "Who is my doctor? | Who do I see for check-ups? | What's my GP's name?",
          "Your doctor is {v}.", "I've switched GPs — I see {v} now."),
    _user("health", "user dentist", "doctor",
          "My dentist is {v}. | I go to {v} for my teeth. | {v} does my dental check-ups. | I've been seeing {v}, my dentist, for years.",
          "Who's my dentist? | Who looks after my teeth? | Which dentist do I go to?", "Your dentist is {v}."),
    _user("health", "user pharmacy", "pharmacy",
          "I get my prescriptions at {v}. | My pharmacy is {v}. | {v} fills my prescriptions. | I always pick up my meds from {v}.",
          "Where do I get my prescriptions? | Which pharmacy do I use? | Where do I pick up my medicine?",
          "Your pharmacy is {v}."),
    _user("health", "user health insurer", "company",
          "My health insurance is with {v}. | I'm insured through {v}. | {v} is my health insurer. | My medical cover comes from {v}.",
          "Who is my health insurer? | Which company covers my medical bills? | Who am I insured with?",
          "Your health insurer is {v}."),
    _user("health", "user therapist", "first_name",
          "My therapist is called {v}. | I see {v} for therapy every other week. | {v} is my counsellor. | Talking to {v}, my therapist, really helps.",
          "Who is my therapist? | Who do I see for therapy? | What's my counsellor called?", "Your therapist is {v}."),
    _user("health", "user last tetanus shot", "date_year",
          "My last tetanus shot was on {v}. | I had a tetanus booster on {v}. | I got my tetanus jab {v}. | The clinic gave me a tetanus shot on {v}.",
          "When was my last tetanus shot? | When did I get my tetanus booster? | When was I last vaccinated for tetanus?",
          "Your last tetanus shot was on {v}."),
    _user("health", "user sleep hours", "few",
          "I need about {v} hours of sleep. | I usually sleep {v} hours a night. | Anything less than {v} hours of sleep and I'm useless. | My body wants {v} hours a night.",
          "How much sleep do I need? | How many hours do I sleep? | How long do I sleep each night?",
          "You need about {v} hours of sleep."),
    # ---- diet
    _user("diet", "user diet", "diet",
          "I follow a {v} diet. | I've been strictly {v} for two years. | My diet is {v}. | I eat {v}, so keep that in mind for recipes.",
          "What kind of diet do I follow? | Are there foods I avoid? | What should you keep in mind when suggesting recipes for me?",
          "You follow a {v} diet.", "I've gone {v} now. | I changed my diet — I'm {v} these days."),
    _user("diet", "user favourite food", "food",
          "My favourite food is {v}. | I could eat {v} every day. | Nothing beats {v} for me. | If I could only eat one thing, it would be {v}.",
          "What's my favourite food? | What dish do I love most? | What could I eat every day?",
          "Your favourite food is {v}."),
    _user("diet", "user disliked food", "food",
          "I can't stand {v}. | I really don't like {v}. | Please never suggest {v}; I hate it. | You'll never catch me eating {v}.",
          "What food do I hate? | Which dish can't I stand? | What should you never suggest for me to eat?",
          "You can't stand {v}."),
    _user("diet", "user coffee order", "drink",
          "My usual coffee order is {av}. | I always get {av}. | If you're buying, I'll have {av}. | Every morning it's {av} for me.",
          "What's my usual coffee? | What do I order at the café? | What should you get me from the coffee shop?",
          "You usually get {av}."),
    _user("diet", "user favourite cuisine", "cuisine",
          "{v} food is my favourite. | I love {v} cooking more than anything. | My favourite cuisine is {v}. | Give me {v} food any day.",
          "What's my favourite cuisine? | Which kind of food do I like best? | What sort of restaurant should we pick for me?",
          "Your favourite cuisine is {v}."),
    _user("diet", "user favourite restaurant", "restaurant",
          "My favourite restaurant is {v}. | We always end up at {v}. | Nothing beats dinner at {v}. | {v} is my go-to place to eat.",
          "What's my favourite restaurant? | Where do I like to eat out? | Which place is my go-to for dinner?",
          "Your favourite restaurant is {v}."),
    _user("diet", "user food intolerance", "allergen",
          "I'm intolerant to {v}. | Eating anything with {v} never agrees with me. | I have an intolerance to {v}. | My stomach can't handle {v}.",
          "What food doesn't agree with me? | What am I intolerant to? | What upsets my stomach?",
          "You're intolerant to {v}."),
    _user("diet", "user breakfast", "food",
          "I usually have {v} for breakfast. | Breakfast for me is normally {v}. | Most mornings I eat {v}. | I start every day with {v}.",
          "What do I eat for breakfast? | What's my usual breakfast? | How do I start my mornings, food-wise?",
          "You usually have {v} for breakfast."),
    _user("diet", "user favourite drink", "drink",
          "My favourite drink is {v}. | I love {v}. | My drink of choice is {v}. | Nothing beats a glass of {v}.",
          "What's my favourite drink? | What do I like to drink? | What's my drink of choice?",
          "Your favourite drink is {v}."),
    # ---- home
    _user("home", "user address", "address",
          "I live at {v}. | My address is {v}. | Send anything for me to {v}. | Our place is at {v}.",
          "What's my address? | Where should packages go? | What's my street address?",
          "Your address is {v}.", "New address: {v}. | We moved — the address is {v} now."),
    _user("home", "user landlord", "full_name",
          "My landlord is {v}. | I rent from {v}. | {v} owns the flat I rent. | If anything breaks, I call my landlord, {v}.",
          "Who's my landlord? | Who do I rent from? | Who owns the place I rent?", "Your landlord is {v}."),
    _user("home", "user rent", "monthly_amount",
          "My rent is {v} a month. | I pay {v} in rent. | Rent on my flat is {v}. | Every month {v} goes on rent.",
          "How much rent do I pay? | What's my rent? | How much is my monthly rent?",
          "Your rent is {v} a month.", "My rent went up to {v}."),
    _user("home", "user bin day", "weekday",
          "We put the bins out on {v}. | Trash pickup is every {v}. | Our rubbish gets collected on {v}. | {v} is bin day here.",
          "When is bin day? | Which day does the trash get collected? | When do I put the bins out?",
          "Bin day is {v}."),
    _user("home", "user spare key location", "hiding_place",
          "The spare key is {v}. | We keep a spare key {v}. | If I'm locked out, the spare is {v}. | There's a spare house key {v}.",
          "Where's the spare key? | Where do we hide the spare house key? | If I'm locked out, where's the other key?",
          "The spare key is {v}.", "I moved the spare key — it's {v} now."),
    _user("home", "user move-in date", "date_year",
          "We moved into this place on {v}. | My move-in date was {v}. | I got the keys to my flat on {v}. | I've lived here since {v}.",
          "When did I move in? | When did I get the keys to my place? | How long have I lived here — since when?",
          "You moved in on {v}."),
    _user("home", "user parking space", "ref_code",
          "My parking space is {v}. | I park in bay {v}. | The car goes in space {v} downstairs. | My assigned parking spot is {v}.",
          "Where do I park? | What's my parking space? | Which bay is mine in the garage?",
          "Your parking space is {v}."),
    _user("home", "user plumber", "full_name",
          "Our plumber is {v}. | When the pipes act up I call {v}. | {v} fixed our boiler last winter. | I always use {v} for plumbing.",
          "Who's our plumber? | Who do I call when the pipes leak? | Which plumber do we use?", "Your plumber is {v}."),
    _user("home", "user thermostat setting", "temperature",
          "I keep the thermostat at {v}. | The heating is set to {v}. | I like the house at {v}. | Our thermostat stays on {v}.",
          "What do I set the thermostat to? | How warm do I keep the house? | What temperature is the heating on?",
          "You keep the thermostat at {v}."),
    _user("home", "user neighbour", "first_name",
          "My neighbour is called {v}. | {v} lives next door. | Our next-door neighbour, {v}, waters the plants when we're away. | The neighbour's name is {v}.",
          "Who's my neighbour? | Who lives next door to me? | Who waters the plants when I'm away?",
          "Your neighbour is {v}."),
    # ---- work
    _user("work", "user job", "job",
          "I work as {av}. | I'm {av} by trade. | I've been {av} for about ten years. | By day I'm {av}.",
          "What do I do for a living? | What's my profession? | What kind of work do I do?",
          "You work as {av}.", "I changed careers — I'm {av} now. | New job: I'm working as {av}."),
    _user("work", "user employer", "company",
          "I work at {v}. | I'm employed by {v}. | My company is {v}. | I've been at {v} since last spring.",
          "Who do I work for? | Which company employs me? | Where do I work?",
          "You work at {v}.", "I started a new job at {v}. | I left my old company; I'm at {v} now."),
    _user("work", "user manager", "full_name",
          "My manager is {v}. | I report to {v}. | My boss is called {v}. | {v} is my line manager.",
          "Who's my boss? | Who do I report to? | Who is my manager?",
          "Your manager is {v}.", "I have a new boss: {v}. | After the reorg I report to {v}."),
    _user("work", "user team", "team_word",
          "I'm on the {v} team. | I work in {v}. | My team is {v}. | I moved into {v} at work last year.",
          "Which team am I on? | What department do I work in? | What's my team at work?",
          "You're on the {v} team.", "I transferred to the {v} team."),
    _user("work", "user work hours", "time_range",
          "I work from {v}. | My hours are {v}. | I'm at work {v} most days. | My shift runs {v}.",
          "What are my working hours? | When am I at work? | What hours do I work?",
          "You work from {v}.", "My hours changed — it's {v} now."),
    _user("work", "user employee ID", "ref_code",
          "My employee ID is {v}. | My staff number is {v}. | At work I'm {v} in the system. | HR has me down as employee {v}.",
          "What's my employee ID? | What's my staff number? | What number am I in the HR system?",
          "Your employee ID is {v}."),
    _user("work", "user office floor", "floor",
          "My office is on the {v} floor. | I sit on the {v} floor. | Our team is up on the {v} floor. | You'll find my desk on the {v} floor.",
          "Which floor is my office on? | Where do I sit at work? | What floor is my desk on?",
          "Your office is on the {v} floor.", "We moved desks — I'm on the {v} floor now."),
    _user("work", "user start date", "date_year",
          "I started my current job on {v}. | My first day at work was {v}. | I joined the company on {v}. | I've been in this job since {v}.",
          "When did I start my job? | When did I join my company? | What was my first day at work?",
          "You started on {v}."),
    _user("work", "user salary", "big_amount",
          "I earn {v} a year. | My salary is {v}. | I'm on {v} annually. | My pay is {v} before tax.",
          "How much do I earn? | What's my salary? | What do I make a year?",
          "Your salary is {v}.", "I got a raise — I'm on {v} now."),
    _user("work", "user commute time", "minutes",
          "My commute takes {v}. | It's {v} to get to work. | Getting to the office takes me {v}. | I spend {v} each way on the train.",
          "How long is my commute? | How long does it take me to get to work? | How far is work from home, in time?",
          "Your commute takes {v}."),
    _user("work", "user university", "university",
          "I studied at {v}. | I went to {v}. | I graduated from {v}. | My degree is from {v}.",
          "Where did I study? | Which university did I go to? | Where did I graduate from?", "You studied at {v}."),
    _user("work", "user degree subject", "subject",
          "I have a degree in {v}. | I studied {v} at university. | My degree is in {v}. | I majored in {v}.",
          "What did I study? | What's my degree in? | What was my major?", "Your degree is in {v}."),
    _user("work", "user languages", "language",
          "I speak {v}. | I'm fluent in {v}. | The languages I speak are {v}. | I can get by in {v}.",
          "What languages do I speak? | Which languages am I fluent in? | What can I speak besides this?",
          "You speak {v}.", "I've picked up another language, so it's {v} now.", multi=(2, 3)),
    _user("work", "user work extension", "digits3",
          "My extension at work is {v}. | You can reach me on extension {v}. | My desk phone is extension {v}. | Dial {v} to get me internally.",
          "What's my extension? | What's my desk phone number at work? | How do people reach me internally?",
          "Your extension is {v}."),
    _user("work", "user project deadline", "date_year",
          "My project is due on {v}. | The deadline for my project is {v}. | I have to hand in my project by {v}. | Everything has to be finished by {v}.",
          "When is my project due? | What's my deadline? | By when do I have to finish my project?",
          "Your project is due on {v}.", "They pushed my deadline to {v}. | The deadline moved: it's {v} now."),
    _user("work", "user mentor", "full_name",
          "My mentor at work is {v}. | {v} mentors me. | I meet my mentor, {v}, once a month. | {v} has been my mentor since I joined.",
          "Who is my mentor? | Who mentors me at work? | Who do I meet with for mentoring?", "Your mentor is {v}."),
    # ---- schedule and appointments
    _user("schedule", "user dentist appointment", "datetime",
          "I have a dentist appointment on {v}. | My teeth cleaning is booked for {v}. | I'm seeing the dentist on {v}. | The dentist wants me in on {v}.",
          "When am I seeing the dentist? | When's my dental appointment? | What day is my teeth cleaning?",
          "Your dentist appointment is on {v}.", "The dentist moved my appointment to {v}."),
    _user("schedule", "user doctor appointment", "datetime",
          "I have a doctor's appointment on {v}. | I'm booked in with the GP on {v}. | My check-up is on {v}. | The clinic expects me on {v}.",
          "When do I see the doctor? | When is my check-up? | When's my GP appointment?",
          "Your doctor's appointment is on {v}.", "My check-up got moved to {v}."),
    _user("schedule", "user haircut", "datetime",
          "My haircut is booked for {v}. | I'm getting my hair cut on {v}. | I have a hair appointment on {v}. | The barber has me down for {v}.",
          "When's my haircut? | When do I get my hair cut? | When is my hair appointment?",
          "Your haircut is on {v}."),
    _user("schedule", "user team meeting", "weekday_time",
          "Our team meets every {v}. | The weekly team meeting is on {v}. | I have a standing meeting every {v}. | We do our team sync on {v}.",
          "When's my team meeting? | When does my team meet each week? | What time is the weekly sync?",
          "Your team meets every {v}.", "The team meeting moved to {v}."),
    _user("schedule", "user wake-up time", "time",
          "I get up at {v} on weekdays. | My alarm goes off at {v}. | I'm usually up by {v}. | I wake up at {v} every morning.",
          "What time do I get up? | When does my alarm go off? | When do I wake up on weekdays?",
          "You get up at {v}."),
    _user("schedule", "user yoga class", "weekday_time",
          "My yoga class is on {v}. | I do yoga every {v}. | I never miss my {v} yoga class. | Yoga for me is {v}.",
          "When's my yoga class? | What day do I do yoga? | When do I go to yoga?", "Your yoga class is on {v}."),
    _user("schedule", "user school pickup time", "time",
          "I pick the kids up from school at {v}. | School pickup is at {v}. | I have to be at the school gate by {v}. | The kids get out at {v}, so I leave work early.",
          "When do I pick up the kids? | What time is school pickup? | When do I have to be at the school gate?",
          "School pickup is at {v}."),
    _user("schedule", "user car service date", "date_year",
          "My car is booked in for a service on {v}. | The car goes to the garage on {v}. | The mechanic has my car on {v}. | I'm dropping the car off for its service on {v}.",
          "When is my car being serviced? | When does the car go to the garage? | When is the car's service?",
          "Your car service is on {v}."),
    _user("schedule", "user dinner reservation", "datetime",
          "I booked a table for dinner on {v}. | Our dinner reservation is for {v}. | We're eating out on {v}; I made a reservation. | The restaurant has us down for {v}.",
          "When is my dinner reservation? | When are we eating out? | What time did I book the table for?",
          "Your dinner reservation is for {v}."),
    _user("schedule", "user medication time", "time",
          "I take my pills at {v}. | My medication is due at {v} every day. | I have to take my tablets at {v}. | Every day at {v} it's pill time.",
          "When do I take my pills? | What time is my medication due? | When should you remind me about my tablets?",
          "You take your pills at {v}."),
    _user("schedule", "user gym days", "weekday",
          "I go to the gym on {v}. | My gym days are {v}. | I train on {v}. | I lift weights every {v}.",
          "Which days do I go to the gym? | When do I train? | What are my gym days?",
          "You go to the gym on {v}.", multi=(2, 3)),
    _user("schedule", "user parent-teacher meeting", "datetime",
          "The parent-teacher meeting is on {v}. | I'm meeting my son's teacher on {v}. | Parents' evening is {v}. | The school booked my parent-teacher slot for {v}.",
          "When is the parent-teacher meeting? | When do I meet the teacher? | When's parents' evening?",
          "The parent-teacher meeting is on {v}."),
    # ---- travel
    _user("travel", "user flight number", "flight",
          "My flight is {v}. | I'm booked on flight {v}. | I'm flying out on {v}. | The flight I'm taking is {v}.",
          "What's my flight number? | Which flight am I on? | What flight did I book?",
          "Your flight is {v}.", "They rebooked me onto {v}."),
    _user("travel", "user trip destination", "city",
          "I'm heading to {v} next month. | We're going to {v} for the holidays. | Our next trip is to {v}. | I'm off to {v} on holiday soon.",
          "Where am I travelling to? | Where's my next trip? | What's my holiday destination?",
          "You're going to {v}.", "Change of plan — we're going to {v} instead."),
    _user("travel", "user departure date", "date_year",
          "I leave for my trip on {v}. | My departure date is {v}. | I fly out on {v}. | We set off on {v}.",
          "When do I leave for my trip? | When is my departure? | What day do I fly out?",
          "You leave on {v}.", "My departure got pushed to {v}."),
    _user("travel", "user return date", "date_year",
          "I'm back from my trip on {v}. | My return flight is on {v}. | We come home on {v}. | I get back on {v}.",
          "When do I get back? | When is my return flight? | When am I home from my trip?",
          "You get back on {v}."),
    _user("travel", "user hotel", "hotel",
          "I'm staying at {v}. | We booked a room at {v}. | My hotel is {v}. | For the trip I'm at {v}.",
          "Where am I staying? | Which hotel did I book? | What's my hotel on the trip?",
          "You're staying at {v}.", "We switched hotels — we're at {v} now."),
    _user("travel", "user booking reference", "alnum",
          "My booking reference is {v}. | The confirmation code for my booking is {v}. | My reservation number is {v}. | The airline gave me reference {v}.",
          "What's my booking reference? | What's my confirmation code? | What's the reservation number for my trip?",
          "Your booking reference is {v}."),
    _user("travel", "user passport number", "alnum",
          "My passport number is {v}. | My passport reads {v}. | For the forms, my passport number is {v}. | Passport: {v}.",
          "What's my passport number? | What number is on my passport? | What do I put for passport number on the form?",
          "Your passport number is {v}.", "I renewed my passport; the new number is {v}."),
    _user("travel", "user passport expiry", "date_year",
          "My passport expires on {v}. | My passport runs out on {v}. | My passport is valid until {v}. | I need a new passport by {v}.",
          "When does my passport expire? | How long is my passport valid? | When do I need to renew my passport?",
          "Your passport expires on {v}."),
    _user("travel", "user seat preference", "seat",
          "I always want {av} seat. | I prefer {av} seat when I fly. | Book me {av} seat if you can. | On planes I like {av} seat.",
          "Which seat do I like on planes? | What's my seat preference? | What seat should you book for me?",
          "You prefer {av} seat."),
    _user("travel", "user frequent flyer number", "digits6",
          "My frequent flyer number is {v}. | My airline loyalty number is {v}. | For air miles, my number is {v}. | My miles account number is {v}.",
          "What's my frequent flyer number? | What's my air miles number? | What's my airline loyalty number?",
          "Your frequent flyer number is {v}."),
    _user("travel", "user travel companion", "first_name",
          "I'm travelling with {v}. | {v} is coming on the trip with me. | My travel buddy this time is {v}. | {v} and I are going together.",
          "Who am I travelling with? | Who's coming on the trip with me? | Who's my travel companion?",
          "You're travelling with {v}."),
    _user("travel", "user train time", "time",
          "My train leaves at {v}. | I'm on the {v} train. | The train I need departs at {v}. | I have to catch the {v} train.",
          "What time is my train? | When does my train leave? | Which train am I catching?",
          "Your train leaves at {v}.", "I changed my ticket — the train is at {v} now."),
    _user("travel", "user rental car", "car",
          "I rented {av} for the trip. | The rental company gave us {av}. | Our hire car is {av}. | We're driving {av} on holiday.",
          "What car did I rent? | What's our hire car? | What are we driving on holiday?",
          "You rented {av}."),
    # ---- money
    _user("money", "user bank", "bank",
          "I bank with {v}. | My bank is {v}. | My current account is at {v}. | I keep my money at {v}.",
          "Which bank am I with? | Who do I bank with? | Where is my current account?",
          "You bank with {v}.", "I switched banks to {v}."),
    _user("money", "user grocery budget", "monthly_amount",
          "My grocery budget is {v} a week. | I try to spend no more than {v} on food each week. | We budget {v} for groceries. | The weekly shop has to stay under {v}.",
          "What's my grocery budget? | How much do I spend on food each week? | How much can the weekly shop cost?",
          "Your grocery budget is {v} a week.", "We raised the grocery budget to {v}."),
    _user("money", "user savings goal", "big_amount",
          "I'm trying to save {v} this year. | My savings goal is {v}. | I want to have {v} put aside by December. | I'm putting money away to reach {v}.",
          "How much am I trying to save? | What's my savings goal? | What's my target for savings?",
          "Your savings goal is {v}.", "I raised my savings goal to {v}."),
    _user("money", "user mortgage payment", "monthly_amount",
          "My mortgage payment is {v} a month. | I pay {v} on the mortgage. | The mortgage costs us {v} monthly. | Each month {v} goes to the mortgage.",
          "How much is my mortgage? | What's my monthly mortgage payment? | How much do I pay on the house each month?",
          "Your mortgage payment is {v} a month.", "We remortgaged; the payment is {v} now."),
    _user("money", "user card payment day", "day_of_month",
          "My credit card payment is due on the {v}. | The card bill has to be paid by the {v} of each month. | I pay off my card on the {v}. | Card payments come out on the {v}.",
          "When is my card payment due? | What day do I pay my credit card? | When does the card bill come out?",
          "Your card payment is due on the {v}."),
    _user("money", "user accountant", "full_name",
          "My accountant is {v}. | {v} does my taxes. | I've used {v} as my accountant for years. | My tax returns go through {v}.",
          "Who's my accountant? | Who does my taxes? | Who handles my tax returns?", "Your accountant is {v}."),
    _user("money", "user phone bill", "monthly_amount",
          "My phone bill is {v} a month. | I pay {v} for my mobile plan. | The phone contract costs {v}. | My mobile costs me {v} monthly.",
          "How much is my phone bill? | What do I pay for my mobile? | What does my phone plan cost?",
          "Your phone bill is {v} a month.", "I switched plans; the bill is {v} now."),
    _user("money", "user account number", "account",
          "My account number is {v}. | My bank account number is {v}. | For transfers, my account is {v}. | Pay me into account {v}.",
          "What's my account number? | What's my bank account number? | Where should transfers go?",
          "Your account number is {v}."),
    _user("money", "user pension provider", "company",
          "My pension is with {v}. | {v} manages my pension. | I pay into a pension at {v}. | My retirement savings sit with {v}.",
          "Who runs my pension? | Where is my pension? | Who manages my retirement savings?",
          "Your pension is with {v}."),
    # ---- belongings
    _user("belongings", "user car", "car",
          "I drive {av}. | My car is {av}. | I've got {av}. | We bought {av} last year.",
          "What car do I drive? | What kind of car do I have? | What's my car?",
          "You drive {av}.", "I sold the old car and got {av}."),
    _user("belongings", "user license plate", "plate",
          "My number plate is {v}. | My car's registration is {v}. | The plate on my car reads {v}. | My licence plate is {v}.",
          "What's my number plate? | What's my car's registration? | What does my licence plate say?",
          "Your licence plate is {v}."),
    _user("belongings", "user phone model", "device",
          "My phone is {av}. | I use {av}. | I just got {av} as my phone. | I'm on {av}.",
          "What phone do I have? | What's my phone model? | Which phone do I use?", "Your phone is {av}."),
    _user("belongings", "user laptop", "device",
          "My laptop is {av}. | I work on {av}. | I do everything on my {v}. | My computer is {av}.",
          "What laptop do I have? | What computer do I use? | What's my laptop model?", "Your laptop is {av}."),
    _user("belongings", "user passport location", "hiding_place",
          "I keep my passport {v}. | My passport is {v}. | The passports are {v}. | If you're looking for my passport, it's {v}.",
          "Where's my passport? | Where do I keep my passport? | Where did I put the passports?",
          "Your passport is {v}."),
    _user("belongings", "user storage unit", "digits3",
          "My storage unit is number {v}. | I rent storage unit {v}. | Our stuff is in unit {v} at the storage place. | The storage locker is {v}.",
          "What's my storage unit number? | Which storage unit is mine? | Where's our stuff in storage?",
          "Your storage unit is number {v}."),
    _user("belongings", "user bike", "device",
          "I ride {av} bike. | My bike is {av}. | I commute on {av}. | I got {av} bike for my birthday.",
          "What bike do I have? | What do I ride? | What's my bike?", "You ride {av}."),
    _user("belongings", "user current book", "title",
          "I'm reading {v} right now. | My current book is {v}. | I just started {v}. | I'm halfway through {v}.",
          "What book am I reading? | What am I reading at the moment? | What's my current book?",
          "You're reading {v}.", "I finished that one and started {v}."),
    # ---- codes and passwords
    _user("codes", "user wifi password", "password",
          "Our wifi password is {v}. | The password for my home wifi is {v}. | If you need to get online here, the wifi key is {v}. | Wifi password: {v}.",
          "What's the wifi password? | How do I get on the home network? | What's the key for our wifi?",
          "The wifi password is {v}.", "I changed the wifi password to {v}."),
    _user("codes", "user wifi network", "wifi_name",
          "Our wifi network is called {v}. | The home network shows up as {v}. | Connect to {v} — that's our wifi. | Our router broadcasts {v}.",
          "What's our wifi called? | Which network should I join at home? | What's the name of the home wifi?",
          "Your wifi network is {v}."),
    _user("codes", "user gate code", "digits6",
          "The gate code for our building is {v}. | To get through the gate, punch in {v}. | Our building's gate opens with {v}. | The code for the front gate is {v}.",
          "What's the gate code? | How do I open the front gate? | What do I punch in at the gate?",
          "The gate code is {v}.", "The gate code changed to {v}."),
    _user("codes", "user alarm code", "digits6",
          "The alarm code for my house is {v}. | To switch off the house alarm, enter {v}. | Our burglar alarm code is {v}. | Disarm the alarm with {v}.",
          "What's the alarm code? | How do I turn off the house alarm? | What code disarms the alarm?",
          "The alarm code is {v}.", "We reset the alarm; the code is {v} now."),
    _user("codes", "user garage code", "digits6",
          "My garage door code is {v}. | The garage opens with {v}. | Punch {v} into the keypad to open the garage. | Our garage keypad code is {v}.",
          "What's the garage code? | How do I open the garage? | What's the keypad code for the garage?",
          "The garage code is {v}."),
    _user("codes", "user bike lock combination", "digits4",
          "My bike lock combination is {v}. | The code on my bike lock is {v}. | My bike lock opens with {v}. | Bike lock: {v}.",
          "What's my bike lock combination? | How do I open my bike lock? | What's the code for the bike lock?",
          "Your bike lock combination is {v}."),
    _user("codes", "user phone PIN", "digits4",
          "My phone PIN is {v}. | I unlock my phone with {v}. | The code for my phone is {v}. | My phone's passcode is {v}.",
          "What's my phone PIN? | How do I unlock my phone? | What's my phone's passcode?",
          "Your phone PIN is {v}.", "I changed my phone PIN to {v}."),
    _user("codes", "user locker combination", "combination",
          "My locker combination is {v}. | The gym locker opens with {v}. | My locker code is {v}. | I set my locker to {v}.",
          "What's my locker combination? | How do I open my locker? | What's the code for my locker?",
          "Your locker combination is {v}."),
    _user("codes", "user laptop password", "password",
          "My laptop password is {v}. | I log into my laptop with {v}. | The password for my computer is {v}. | My laptop login is {v}.",
          "What's my laptop password? | How do I log into my computer? | What's my computer login?",
          "Your laptop password is {v}.", "I changed my laptop password to {v}."),
    _user("codes", "user gym membership number", "digits6",
          "My gym membership number is {v}. | My gym member ID is {v}. | At the gym I'm member {v}. | My gym card says {v}.",
          "What's my gym membership number? | What's my member ID at the gym? | What's on my gym card?",
          "Your gym membership number is {v}."),
    _user("codes", "user library card number", "digits6",
          "My library card number is {v}. | My library card reads {v}. | For the library, my card is {v}. | Library card: {v}.",
          "What's my library card number? | What number is on my library card? | How do I log into the library site?",
          "Your library card number is {v}."),
    _user("codes", "user recovery code", "uuid",
          "My account recovery code is {v}. | The backup code for my email is {v}. | If I'm locked out, the recovery code is {v}. | Save this recovery key for me: {v}.",
          "What's my recovery code? | How do I get back into my account if I'm locked out? | What's my backup code?",
          "Your recovery code is {v}."),
    _user("codes", "user API key", "uuid",
          "My API key is {v}. | The key for my developer account is {v}. | Use {v} as my API key. | Here's my API token: {v}.",
          "What's my API key? | What's the key for my developer account? | What's my API token?",
          "Your API key is {v}.", "I rotated my API key; the new one is {v}."),
    _user("codes", "user voicemail PIN", "digits4",
          "My voicemail PIN is {v}. | I check voicemail with {v}. | The code for my voicemail is {v}. | Voicemail PIN: {v}.",
          "What's my voicemail PIN? | How do I check my voicemail? | What's the voicemail code?",
          "Your voicemail PIN is {v}."),
    # ---- preferences
    _user("preferences", "user favourite colour", "colour",
          "My favourite colour is {v}. | I love the colour {v}. | Anything in {v} catches my eye. | I'd paint everything {v} if I could.",
          "What's my favourite colour? | Which colour do I like best? | What colour should you pick for me?",
          "Your favourite colour is {v}."),
    _user("preferences", "user favourite band", "band",
          "My favourite band is {v}. | I've seen {v} live four times. | I'm obsessed with {v}. | Nobody beats {v} for me, music-wise.",
          "What's my favourite band? | Which band do I love? | Who do I like to listen to?",
          "Your favourite band is {v}."),
    _user("preferences", "user favourite film", "title",
          "My favourite film is {v}. | I've watched {v} a dozen times. | The best movie ever made is {v}. | {v} is my all-time favourite movie.",
          "What's my favourite film? | Which movie do I love most? | What film have I watched a dozen times?",
          "Your favourite film is {v}."),
    _user("preferences", "user favourite book", "title",
          "My favourite book is {v}. | I reread {v} every year. | The book I love most is {v}. | {v} changed my life; it's my favourite book.",
          "What's my favourite book? | Which book do I reread every year? | What book do I love most?",
          "Your favourite book is {v}."),
    _user("preferences", "user favourite team", "team_name",
          "I support {v}. | My team is {v}. | I've followed {v} since I was a kid. | I never miss a {v} match.",
          "Which team do I support? | Who's my team? | Which club do I follow?", "You support {v}."),
    _user("preferences", "user hobby", "hobby",
          "I'm really into {v}. | My hobby is {v}. | In my spare time I do {v}. | Weekends are for {v}.",
          "What's my hobby? | What do I do in my spare time? | What am I into?",
          "You're into {v}.", "I've taken up {v} lately."),
    _user("preferences", "user instrument", "instrument",
          "I play the {v}. | I've been learning the {v}. | My instrument is the {v}. | I practise the {v} every evening.",
          "What instrument do I play? | What am I learning to play? | What do I practise in the evenings?",
          "You play the {v}."),
    _user("preferences", "user favourite sport", "sport",
          "My favourite sport is {v}. | I love playing {v}. | I play {v} twice a week. | Nothing makes me happier than a game of {v}.",
          "What's my favourite sport? | Which sport do I play? | What sport do I love?", "Your favourite sport is {v}."),
    _user("preferences", "user music genre", "genre",
          "I mostly listen to {v}. | My favourite kind of music is {v}. | I'm a big {v} fan. | Put on some {v} and I'm happy.",
          "What music do I like? | What do I listen to? | What's my favourite genre?", "You mostly listen to {v}."),
    _user("preferences", "user favourite flower", "flower",
          "My favourite flowers are {v}. | I love {v}. | If you ever buy me flowers, make them {v}. | I always keep a vase of {v} on the table.",
          "What are my favourite flowers? | Which flowers do I like? | What flowers should someone buy me?",
          "Your favourite flowers are {v}."),
    _user("preferences", "user favourite author", "full_name",
          "My favourite author is {v}. | I've read everything by {v}. | I love {v}'s novels. | Nobody writes like {v}.",
          "Who's my favourite author? | Which writer do I love? | Whose books have I read all of?",
          "Your favourite author is {v}."),
    _user("preferences", "user learning language", "language",
          "I'm learning {v}. | I've started {v} lessons. | I'm trying to pick up {v}. | I practise {v} every day on my phone.",
          "What language am I learning? | What am I taking lessons in? | Which language am I trying to pick up?",
          "You're learning {v}.", "I switched to learning {v}."),
    _user("preferences", "user holiday preference", "city",
          "My dream holiday is in {v}. | I'd love to visit {v} one day. | {v} is top of my travel list. | If I could go anywhere, I'd pick {v}.",
          "Where do I dream of going? | What's at the top of my travel list? | Where would I go if I could go anywhere?",
          "You'd love to visit {v}."),
    # ---- contacts
    _user("contacts", "user phone number", "phone",
          "My phone number is {v}. | You can reach me on {v}. | My mobile is {v}. | Call me on {v}.",
          "What's my phone number? | How can people reach me? | What's my mobile number?",
          "Your phone number is {v}.", "I got a new number: {v}."),
    _user("contacts", "user email", "email",
          "My email is {v}. | You can email me at {v}. | My email address is {v}. | Send it to {v}.",
          "What's my email? | Where can people email me? | What's my email address?",
          "Your email is {v}.", "I have a new email address: {v}."),
    _user("contacts", "user emergency contact", "full_name",
          "My emergency contact is {v}. | In an emergency, call {v}. | If anything happens to me, contact {v}. | {v} is my emergency contact.",
          "Who's my emergency contact? | Who should be called in an emergency? | Who do we contact if something happens to me?",
          "Your emergency contact is {v}.", "My emergency contact is now {v}."),
    _user("contacts", "user mother phone", "phone",
          "My mum's number is {v}. | You can reach my mother on {v}. | My mom's phone is {v}. | Mum's mobile: {v}.",
          "What's my mum's number? | How do I reach my mother? | What's my mom's phone number?",
          "Your mother's number is {v}."),
    _user("contacts", "user work email", "email",
          "My work email is {v}. | At work I'm {v}. | For anything job-related, email {v}. | My office address is {v}.",
          "What's my work email? | Where do work emails go? | What's my email at the office?",
          "Your work email is {v}.", "My work email changed to {v}."),
    _user("contacts", "user vet", "doctor",
          "Our vet is {v}. | The pets see {v}. | {v} looks after our animals. | Our vet, {v}, is brilliant.",
          "Who's our vet? | Who looks after the pets? | Which vet do we use?", "Your vet is {v}."),
    _user("contacts", "user mechanic", "full_name",
          "My mechanic is {v}. | {v} fixes my car. | I take the car to {v}. | The only mechanic I trust is {v}.",
          "Who's my mechanic? | Who fixes my car? | Where do I take the car for repairs?", "Your mechanic is {v}."),
    _user("contacts", "user best friend phone", "phone",
          "My best friend's number is {v}. | You can reach my best friend on {v}. | My best mate's mobile is {v}. | If you can't reach me, call my best friend on {v}.",
          "What's my best friend's number? | How do I reach my best friend? | What's my best mate's mobile?",
          "Your best friend's number is {v}."),
    _user("contacts", "user doctor office phone", "phone",
          "My doctor's office number is {v}. | The surgery's phone is {v}. | To book with my GP, ring {v}. | The clinic's number is {v}.",
          "What's my doctor's office number? | How do I call the surgery? | What's the clinic's phone number?",
          "Your doctor's office number is {v}."),
    _user("identity", "user pet", "pet_species",
          "I have {av}. | We have {av} at home. | My pet is {av}. | I share my flat with {av}.",
          "What kind of pet do I have? | What animal do I keep? | What pet lives with me?", "You have {av}."),
    _user("identity", "user pet name", "first_name",
          "My pet is called {v}. | Our pet answers to {v}. | We named our pet {v}. | My pet's name is {v}.",
          "What's my pet called? | What's the name of my pet? | What did I name my pet?", "Your pet is called {v}."),
]

CATALOG += [
    # ---- documents: roles
    _doc("doc_roles", "org", "chair", "full_name",
         "{S} is chaired by {v}. | {v} chairs {s}. | The chair of {s} is {v}. | {v} was appointed chair of {s} at the last meeting.",
         "Who chairs {s}? | Who is the chair of {s}? | Who runs {s} meetings?", "{v} chairs {s}.",
         "{v} has taken over as chair of {s}."),
    _doc("doc_roles", "org", "treasurer", "full_name",
         "The treasurer of {s} is {v}. | {v} serves as treasurer for {s}. | {S} keeps its accounts under its treasurer, {v}. | Questions about {s} finances go to {v}, the treasurer.",
         "Who is the treasurer of {s}? | Who handles the money for {s}? | Who keeps the accounts of {s}?",
         "The treasurer of {s} is {v}."),
    _doc("doc_roles", "org", "secretary", "full_name",
         "{v} is the secretary of {s}. | The minutes of {s} are taken by its secretary, {v}. | {S} elected {v} as secretary. | Correspondence for {s} is handled by {v}, the secretary.",
         "Who is the secretary of {s}? | Who takes the minutes for {s}? | Who handles correspondence for {s}?",
         "The secretary of {s} is {v}."),
    _doc("doc_roles", "project", "lead", "full_name",
         "{S} is led by {v}. | The lead on {s} is {v}. | {v} heads up {s}. | All decisions on {s} go through its lead, {v}.",
         "Who leads {s}? | Who is in charge of {s}? | Who heads up {s}?", "{S} is led by {v}.",
         "{v} has replaced the previous lead on {s}."),
    _doc("doc_roles", "project", "contact", "email",
         "Questions about {s} should be sent to {v}. | The contact address for {s} is {v}. | For {s}, write to {v}. | Enquiries regarding {s}: {v}.",
         "Where do I send questions about {s}? | What's the contact address for {s}? | Who do I write to about {s}?",
         "The contact for {s} is {v}."),
    _doc("doc_roles", "company", "chief executive", "full_name",
         "{S} is run by its chief executive, {v}. | {v} is the CEO of {s}. | The chief executive of {s} is {v}. | {v} took over as head of {s} last year.",
         "Who runs {s}? | Who is the CEO of {s}? | Who is the chief executive of {s}?", "The chief executive of {s} is {v}."),
    _doc("doc_roles", "company", "founder", "full_name",
         "{S} was founded by {v}. | {v} started {s}. | The founder of {s} is {v}. | {v} set up {s} in a garage.",
         "Who founded {s}? | Who started {s}? | Who set up {s}?", "{S} was founded by {v}."),
    _doc("doc_roles", "team", "coach", "full_name",
         "{S} are coached by {v}. | {v} is the head coach of {s}. | The coach of {s} is {v}. | {v} took charge of {s} this season.",
         "Who coaches {s}? | Who is the coach of {s}? | Who is in charge of {s}?", "{S} are coached by {v}."),
    _doc("doc_roles", "team", "captain", "full_name",
         "{v} captains {s}. | The captain of {s} is {v}. | {S} are captained by {v}. | {v} wears the armband for {s}.",
         "Who captains {s}? | Who is the captain of {s}? | Who wears the armband for {s}?", "{v} captains {s}."),
    _doc("doc_roles", "school", "head teacher", "full_name",
         "The head teacher of {s} is {v}. | {S} is run by its head, {v}. | {v} is head teacher at {s}. | Letters to {s} should be addressed to {v}, the head.",
         "Who is the head teacher of {s}? | Who runs {s}? | Who is the head at {s}?", "The head teacher of {s} is {v}."),
    _doc("doc_roles", "publication", "editor", "full_name",
         "{S} is edited by {v}. | The editor of {s} is {v}. | {v} edits {s}. | Submissions to {s} go to its editor, {v}.",
         "Who edits {s}? | Who is the editor of {s}? | Who do submissions to {s} go to?", "{S} is edited by {v}."),
    _doc("doc_roles", "restaurant", "head chef", "full_name",
         "The head chef at {s} is {v}. | {v} runs the kitchen at {s}. | {S}'s kitchen is led by {v}. | {v} cooks at {s} as head chef.",
         "Who is the head chef at {s}? | Who runs the kitchen at {s}? | Who cooks at {s}?", "The head chef at {s} is {v}."),
    _doc("doc_roles", "ship", "captain", "full_name",
         "{S} is commanded by Captain {v}. | The master of {s} is {v}. | {v} is captain of {s}. | {S} sails under {v}.",
         "Who captains {s}? | Who is the master of {s}? | Who commands {s}?", "The captain of {s} is {v}."),
    _doc("doc_roles", "org", "members", "full_name",
         "The members of {s} are {v}. | {S} has {n} members: {v}. | Sitting on {s} are {v}. | {S} is made up of {v}.",
         "Who is on {s}? | Who are the members of {s}? | Who sits on {s}?", "The members of {s} are {v}.",
         multi=(2, 4)),
    # ---- documents: dates
    _doc("doc_dates", "project", "deadline", "date_year",
         "The deadline for {s} is {v}. | {S} must be finished by {v}. | All work on {s} is due on {v}. | Submissions for {s} close on {v}.",
         "When is {s} due? | What's the deadline for {s}? | By when must {s} be done?", "{S} is due on {v}.",
         "The deadline for {s} has been moved to {v}."),
    _doc("doc_dates", "building", "opening date", "date_year",
         "{S} opens on {v}. | The opening of {s} is set for {v}. | {S} will open its doors on {v}. | Doors open at {s} for the first time on {v}.",
         "When does {s} open? | What's the opening date of {s}? | When can people first visit {s}?", "{S} opens on {v}."),
    _doc("doc_dates", "company", "founding year", "year",
         "{S} was founded in {v}. | {S} has been trading since {v}. | Established in {v}, {s} is still family run. | The founding year of {s} is {v}.",
         "When was {s} founded? | How long has {s} been around? | What year was {s} established?", "{S} was founded in {v}."),
    _doc("doc_dates", "product", "launch date", "date_year",
         "{S} launches on {v}. | The release date for {s} is {v}. | {S} goes on sale on {v}. | Customers can buy {s} from {v}.",
         "When does {s} launch? | When is {s} released? | When can customers buy {s}?", "{S} launches on {v}.",
         "The launch of {s} has slipped to {v}."),
    _doc("doc_dates", "agreement", "expiry date", "date_year",
         "{S} expires on {v}. | {S} runs until {v}. | The term of {s} ends on {v}. | Unless renewed, {s} lapses on {v}.",
         "When does {s} expire? | How long does {s} run? | When does {s} end?", "{S} expires on {v}.",
         "{S} has been extended to {v}."),
    _doc("doc_dates", "case", "hearing date", "date_year",
         "The hearing in {s} is listed for {v}. | {S} will be heard on {v}. | The court has set {v} for {s}. | {S} goes before the judge on {v}.",
         "When is the hearing in {s}? | When will {s} be heard? | What date did the court set for {s}?",
         "The hearing in {s} is on {v}.", "The hearing in {s} was adjourned to {v}."),
    _doc("doc_dates", "shipment", "delivery date", "date_year",
         "{S} is expected on {v}. | Delivery of {s} is scheduled for {v}. | {S} should arrive on {v}. | The carrier will deliver {s} on {v}.",
         "When will {s} arrive? | When is {s} being delivered? | What's the delivery date for {s}?",
         "{S} is due on {v}.", "{S} has been delayed until {v}."),
    _doc("doc_dates", "building", "inspection date", "date_year",
         "The fire inspection of {s} is on {v}. | Inspectors will visit {s} on {v}. | {S} is due for inspection on {v}. | The safety check at {s} takes place on {v}.",
         "When is {s} being inspected? | When do the inspectors visit {s}? | When is the safety check at {s}?",
         "{S} is inspected on {v}."),
    _doc("doc_dates", "org", "election date", "date_year",
         "{S} holds its elections on {v}. | Voting for {s} takes place on {v}. | The next election of {s} is {v}. | Members of {s} vote on {v}.",
         "When does {s} hold its elections? | When is the vote for {s}? | When do members of {s} vote?",
         "{S} holds its elections on {v}."),
    _doc("doc_dates", "grant", "application deadline", "date_year",
         "Applications for {s} close on {v}. | The closing date for {s} is {v}. | Apply for {s} by {v}. | {S} accepts applications until {v}.",
         "When do applications for {s} close? | What's the closing date for {s}? | By when must I apply for {s}?",
         "Applications for {s} close on {v}."),
    _doc("doc_dates", "person", "birthday", "date",
         "{sp} birthday is {v}. | {S} was born on {v}. | {S} celebrates a birthday on {v}. | We send {s} a card every {v}.",
         "When is {sp} birthday? | When was {s} born? | What date does {s} celebrate a birthday?",
         "{sp} birthday is {v}."),
    # ---- documents: places
    _doc("doc_places", "event", "venue", "venue",
         "{S} will be held at {v}. | This year {s} takes place at {v}. | The venue for {s} is {v}. | {S} moves to {v} this year.",
         "Where is {s}? | Where will {s} be held? | What's the venue for {s}?", "{S} is at {v}.",
         "{S} has moved to {v}."),
    _doc("doc_places", "company", "headquarters", "city",
         "{S} is headquartered in {v}. | The head office of {s} is in {v}. | {S} runs everything from its base in {v}. | {S} moved its headquarters to {v}.",
         "Where is {s} based? | Where is the head office of {s}? | Where are the headquarters of {s}?",
         "{S} is headquartered in {v}."),
    _doc("doc_places", "project", "meeting room", "room",
         "Meetings for {s} are held in {v}. | The {s} team meets in {v}. | {S} has booked {v} for its meetings. | Go to {v} for {s} meetings.",
         "Where does the {s} team meet? | Which room is booked for {s}? | Where are meetings for {s} held?",
         "Meetings for {s} are in {v}."),
    _doc("doc_places", "device", "location", "storage_place",
         "{S} is kept at {v}. | You'll find {s} at {v}. | {S} has been moved to {v}. | {S} lives at {v} when not in use.",
         "Where is {s} kept? | Where can I find {s}? | Where does {s} live?", "{S} is at {v}."),
    _doc("doc_places", "shipment", "destination", "city",
         "{S} is bound for {v}. | {S} will be delivered to our depot in {v}. | The destination of {s} is {v}. | {S} ships to {v}.",
         "Where is {s} going? | What's the destination of {s}? | Where will {s} be delivered?",
         "{S} is going to {v}.", "{S} has been rerouted to {v}."),
    _doc("doc_places", "shipment", "origin", "city",
         "{S} leaves from {v}. | {S} was dispatched from {v}. | {S} originates in {v}. | The goods in {s} come from {v}.",
         "Where does {s} come from? | Where was {s} dispatched from? | What's the origin of {s}?",
         "{S} comes from {v}."),
    _doc("doc_places", "org", "registered address", "address",
         "The registered address of {s} is {v}. | {S} is registered at {v}. | Official post for {s} goes to {v}. | {sp} office is at {v}.",
         "What's the registered address of {s}? | Where is {s} registered? | Where does official post for {s} go?",
         "{S} is registered at {v}.", "{S} has moved to {v}."),
    _doc("doc_places", "person", "office", "room",
         "{sp} office is {v}. | You'll find {s} in {v}. | {S} works out of {v}. | {S} sits in {v}.",
         "Where is {sp} office? | Where can I find {s}? | Which room does {s} work in?", "{sp} office is {v}.",
         "{S} has moved to {v}."),
    _doc("doc_places", "person", "hometown", "city",
         "{S} grew up in {v}. | {S} comes from {v}. | {sp} hometown is {v}. | {S} was raised in {v}.",
         "Where did {s} grow up? | Where does {s} come from? | What's {sp} hometown?", "{S} grew up in {v}."),
    # ---- documents: quantities
    _doc("doc_quantities", "project", "budget", "big_amount",
         "The budget for {s} is {v}. | {S} has been allocated {v}. | {S} must be delivered within {v}. | Funding for {s} comes to {v}.",
         "How much money does {s} have? | What's the budget for {s}? | How much was allocated to {s}?",
         "The budget for {s} is {v}.", "The budget for {s} was raised to {v}."),
    _doc("doc_quantities", "company", "staff count", "count",
         "{S} employs {v} people. | {S} has a staff of {v}. | There are {v} employees at {s}. | Headcount at {s} stands at {v}.",
         "How many people work at {s}? | How big is {s}? | What's the headcount at {s}?", "{S} employs {v} people."),
    _doc("doc_quantities", "building", "capacity", "count",
         "{S} holds {v} people. | The capacity of {s} is {v}. | {S} seats up to {v}. | No more than {v} people are allowed in {s}.",
         "How many people does {s} hold? | What's the capacity of {s}? | How many can {s} seat?",
         "{S} holds {v} people."),
    _doc("doc_quantities", "product", "price", "price",
         "{S} costs {v}. | {S} retails at {v}. | The price of {s} is {v}. | {S} is on sale for {v}.",
         "How much does {s} cost? | What's the price of {s}? | What does {s} sell for?", "{S} costs {v}.",
         "{S} is now reduced to {v}."),
    _doc("doc_quantities", "shipment", "weight", "weight",
         "{S} weighs {v}. | The gross weight of {s} is {v}. | {S} comes in at {v}. | The manifest lists {s} at {v}.",
         "How heavy is {s}? | What does {s} weigh? | What's the weight of {s}?", "{S} weighs {v}."),
    _doc("doc_quantities", "event", "attendance", "count",
         "{S} drew {v} visitors. | Attendance at {s} was {v}. | {v} people came to {s}. | {S} welcomed {v} guests.",
         "How many people came to {s}? | What was the attendance at {s}? | How many visitors did {s} draw?",
         "{v} people came to {s}."),
    _doc("doc_quantities", "town", "population", "big_count",
         "{S} has a population of {v}. | About {v} people live in {s}. | {S} is home to {v} residents. | The last census counted {v} people in {s}.",
         "How many people live in {s}? | What's the population of {s}? | How big is {s}?",
         "{S} has a population of {v}."),
    _doc("doc_quantities", "event", "ticket price", "price",
         "Tickets for {s} cost {v}. | Entry to {s} is {v}. | A ticket to {s} will set you back {v}. | Admission to {s} is priced at {v}.",
         "How much are tickets for {s}? | What does entry to {s} cost? | What's the admission price for {s}?",
         "Tickets for {s} cost {v}."),
    _doc("doc_quantities", "agreement", "monthly fee", "monthly_amount",
         "Under {s}, the monthly fee is {v}. | {S} costs {v} a month. | The fee payable under {s} is {v} per month. | Each month {s} bills {v}.",
         "What's the monthly fee under {s}? | How much does {s} cost a month? | What does {s} bill each month?",
         "The monthly fee under {s} is {v}."),
    _doc("doc_quantities", "grant", "award amount", "big_amount",
         "{S} is worth {v}. | Winners of {s} receive {v}. | {S} pays out {v}. | The value of {s} is {v}.",
         "How much is {s} worth? | What do winners of {s} receive? | How much does {s} pay?", "{S} is worth {v}."),
    _doc("doc_quantities", "product", "units in stock", "count",
         "We have {v} units of {s} in stock. | Stock of {s} stands at {v}. | The warehouse holds {v} of {s}. | There are {v} of {s} left.",
         "How many of {s} do we have? | What's the stock level of {s}? | How many of {s} are left?",
         "There are {v} units of {s} in stock."),
    _doc("doc_quantities", "event", "route length", "length",
         "The route of {s} is {v} long. | {S} covers {v}. | Participants in {s} cover {v}. | {S} runs for {v}.",
         "How long is {s}? | What distance does {s} cover? | How far do people go in {s}?",
         "{S} covers {v}."),
    # ---- documents: codes
    _doc("doc_codes", "room", "door code", "digits6",
         "The door code for {s} is {v}. | Access to {s} is by keypad; the code is {v}. | To open {s}, enter {v}. | Staff entering {s} should use the code {v}.",
         "What's the code for {s}? | How do I get into {s}? | Which code opens {s}?", "The door code for {s} is {v}.",
         "The code for {s} has been changed to {v}."),
    _doc("doc_codes", "device", "serial number", "ref_code",
         "{S} has serial number {v}. | The serial number of {s} is {v}. | {S} is registered under serial {v}. | Quote serial {v} when reporting faults with {s}.",
         "What's the serial number of {s}? | Which serial is {s} registered under? | What do I quote when reporting faults with {s}?",
         "The serial number of {s} is {v}."),
    _doc("doc_codes", "shipment", "tracking number", "alnum",
         "{S} can be tracked with {v}. | The tracking number for {s} is {v}. | Use {v} to follow {s}. | The carrier's reference for {s} is {v}.",
         "How do I track {s}? | What's the tracking number for {s}? | What's the carrier's reference for {s}?",
         "The tracking number for {s} is {v}."),
    _doc("doc_codes", "case", "case number", "ref_code",
         "{S} is filed under case number {v}. | The court reference for {s} is {v}. | Quote {v} in all letters about {s}. | {S} carries the number {v}.",
         "What's the case number of {s}? | What's the court reference for {s}? | What do I quote in letters about {s}?",
         "The case number of {s} is {v}."),
    _doc("doc_codes", "server", "IP address", "ip",
         "{S} answers on {v}. | The IP address of {s} is {v}. | Point the client at {v} to reach {s}. | {S} was given the address {v}.",
         "What's the IP of {s}? | How do I reach {s}? | What address does {s} answer on?",
         "The IP address of {s} is {v}.", "{S} was moved to {v}."),
    _doc("doc_codes", "software", "licence key", "uuid",
         "The licence key for {s} is {v}. | {S} is activated with {v}. | Enter {v} to unlock {s}. | Our {s} licence key is {v}.",
         "What's the licence key for {s}? | How do I activate {s}? | What unlocks {s}?",
         "The licence key for {s} is {v}."),
    _doc("doc_codes", "product", "batch number", "ref_code",
         "{S} in this delivery belongs to batch {v}. | The batch number of {s} is {v}. | Recall notices for {s} refer to batch {v}. | {S} was made in batch {v}.",
         "What batch is {s} from? | What's the batch number of {s}? | Which batch was {s} made in?",
         "The batch number of {s} is {v}."),
    _doc("doc_codes", "vehicle", "registration", "plate",
         "{S} is registered as {v}. | The plate on {s} reads {v}. | {S} carries registration {v}. | Log trips in {s} under {v}.",
         "What's the registration of {s}? | What's the plate on {s}? | What does {s} carry as registration?",
         "{S} is registered as {v}."),
    _doc("doc_codes", "agreement", "reference number", "ref_code",
         "{S} has reference {v}. | Please quote {v} for {s}. | The reference number of {s} is {v}. | {S} is filed as {v}.",
         "What's the reference for {s}? | What do I quote for {s}? | How is {s} filed?",
         "The reference number of {s} is {v}."),
    _doc("doc_codes", "project", "wifi password", "password",
         "The guest wifi for {s} uses the password {v}. | Visitors to {s} can log on with {v}. | The {s} network password is {v}. | For {s}, the wifi password is {v}.",
         "What's the wifi password for {s}? | How do visitors to {s} get online? | What's the network password for {s}?",
         "The wifi password for {s} is {v}."),
    _doc("doc_codes", "server", "admin token", "uuid",
         "The admin token for {s} is {v}. | Log into {s} as admin with {v}. | {S} accepts the admin token {v}. | Keep {v} safe; it is the admin token for {s}.",
         "What's the admin token for {s}? | How do I log into {s} as admin? | Which token gives admin on {s}?",
         "The admin token for {s} is {v}."),
    _doc("doc_codes", "person", "phone", "phone",
         "{S} can be reached on {v}. | {sp} number is {v}. | Call {s} on {v}. | {sp} direct line is {v}.",
         "How do I reach {s}? | What's {sp} number? | What's the phone number of {s}?", "{sp} number is {v}.",
         "{S} has a new number: {v}."),
    _doc("doc_codes", "person", "email", "email",
         "{sp} email is {v}. | Write to {s} at {v}. | {S} reads mail at {v}. | You can email {s} on {v}.",
         "What's {sp} email? | How do I write to {s}? | Where can I email {s}?", "{sp} email is {v}."),
    # ---- documents: decisions
    _doc("doc_decisions", "project", "supplier", "company",
         "The board approved {v} as the supplier for {s}. | {v} will supply {s}. | After the tender, {s} went to {v}. | {S} will be supplied by {v}.",
         "Who supplies {s}? | Which supplier was chosen for {s}? | Who won the tender for {s}?",
         "{v} supplies {s}.", "The supplier for {s} was changed to {v}."),
    _doc("doc_decisions", "org", "new name", "title",
         "{S} will be renamed {v}. | Members voted to call {s} {v} from now on. | From next year, {s} becomes {v}. | The committee agreed a new name for {s}: {v}.",
         "What will {s} be called? | What's the new name of {s}? | What did members vote to rename {s}?",
         "{S} will be renamed {v}."),
    _doc("doc_decisions", "position", "hire", "full_name",
         "The panel chose {v} for {s}. | {v} has been offered {s}. | {S} goes to {v}. | After interviews, {v} was appointed to {s}.",
         "Who got {s}? | Who was chosen for {s}? | Who was appointed to {s}?", "{v} was chosen for {s}."),
    _doc("doc_decisions", "event", "new date", "date_year",
         "{S} has been postponed to {v}. | {S} will now take place on {v}. | Organisers moved {s} to {v}. | Please note that {s} is now on {v}.",
         "When is {s} now? | What was {s} postponed to? | When will {s} take place?", "{S} is now on {v}."),
    _doc("doc_decisions", "contest", "winner", "full_name",
         "{S} was won by {v}. | The judges awarded {s} to {v}. | {v} took first place in {s}. | The winner of {s} is {v}.",
         "Who won {s}? | Who took first place in {s}? | Who was awarded {s}?", "{S} was won by {v}."),
    _doc("doc_decisions", "event", "dress code", "dress_code",
         "The dress code for {s} is {v}. | Guests at {s} are asked to wear {v}. | {S} is {v}. | Dress for {s}: {v}.",
         "What should I wear to {s}? | What's the dress code for {s}? | How do I dress for {s}?",
         "The dress code for {s} is {v}."),
    _doc("doc_decisions", "grant", "recipient", "full_name",
         "{S} was awarded to {v}. | This year {s} goes to {v}. | The committee gave {s} to {v}. | {v} receives {s}.",
         "Who got {s}? | Who was awarded {s}? | Who receives {s} this year?", "{S} was awarded to {v}."),
    _doc("doc_decisions", "building", "chosen architect", "company",
         "{v} will design {s}. | The commission for {s} went to {v}. | {S} is to be designed by {v}. | The board picked {v} as architects for {s}.",
         "Who is designing {s}? | Who got the commission for {s}? | Which architects were picked for {s}?",
         "{S} is designed by {v}."),
    # ---- documents: events
    _doc("doc_events", "event", "start time", "time",
         "{S} starts at {v}. | Doors open for {s} at {v}. | {S} begins at {v} sharp. | Please arrive for {s} by {v}.",
         "What time does {s} start? | When do doors open for {s}? | When should I arrive for {s}?",
         "{S} starts at {v}.", "{S} now starts at {v}."),
    _doc("doc_events", "event", "keynote speaker", "full_name",
         "{v} will give the keynote at {s}. | The keynote at {s} is by {v}. | {S} opens with a talk by {v}. | Headlining {s} is {v}.",
         "Who gives the keynote at {s}? | Who opens {s}? | Who is headlining {s}?", "{v} gives the keynote at {s}.",
         "{v} is replacing the keynote speaker at {s}."),
    _doc("doc_events", "event", "theme", "theme",
         "The theme of {s} is {v}. | This year {s} is themed {v}. | {S} celebrates {v}. | Everything at {s} follows the theme {v}.",
         "What's the theme of {s}? | What is {s} themed around? | What does {s} celebrate?",
         "The theme of {s} is {v}."),
    _doc("doc_events", "event", "headliner", "band",
         "{v} will headline {s}. | Top of the bill at {s} is {v}. | {S} closes with {v}. | The main act at {s} is {v}.",
         "Who headlines {s}? | Who is the main act at {s}? | Who closes {s}?", "{v} headlines {s}."),
    _doc("doc_events", "event", "organiser", "full_name",
         "{S} is organised by {v}. | {v} is running {s}. | Contact the organiser of {s}, {v}. | The person behind {s} is {v}.",
         "Who organises {s}? | Who is running {s}? | Who is behind {s}?", "{S} is organised by {v}."),
    _doc("doc_events", "event", "date", "date_year",
         "{S} takes place on {v}. | {S} is on {v}. | Save the date: {s} is on {v}. | Mark your calendars for {s} on {v}.",
         "When is {s}? | What date is {s}? | When does {s} take place?", "{S} is on {v}."),
    _doc("doc_events", "event", "speakers", "full_name",
         "The speakers at {s} are {v}. | {S} features talks by {v}. | We'll hear from {v} at {s}. | On the programme at {s}: {v}.",
         "Who is speaking at {s}? | Who gives talks at {s}? | Who's on the programme at {s}?",
         "The speakers at {s} are {v}.", multi=(2, 4)),
    _doc("doc_events", "project", "kickoff", "datetime",
         "{S} kicks off on {v}. | The kickoff meeting for {s} is on {v}. | Work on {s} begins with a kickoff on {v}. | Everyone on {s} should attend the kickoff on {v}.",
         "When does {s} kick off? | When is the kickoff for {s}? | When does work on {s} begin?",
         "{S} kicks off on {v}."),
    # ---- documents: people
    _doc("doc_people", "person", "job title", "job",
         "{S} works as {av}. | {sp} title is {v}. | {S} joined us as {av}. | {S} is our {v}.",
         "What does {s} do? | What is {sp} job? | What's {sp} title?", "{S} works as {av}.",
         "{S} has been promoted to {v}."),
    _doc("doc_people", "person", "employer", "company",
         "{S} works for {v}. | {S} is employed by {v}. | {sp} employer is {v}. | {S} joined {v} last spring.",
         "Who does {s} work for? | Who employs {s}? | Where does {s} work?", "{S} works for {v}.",
         "{S} has moved to {v}."),
    _doc("doc_people", "person", "assistant", "full_name",
         "{sp} assistant is {v}. | To book time with {s}, ask {v}. | {v} manages {sp} diary. | {v} assists {s}.",
         "Who is {sp} assistant? | Who do I ask to book time with {s}? | Who manages {sp} diary?",
         "{sp} assistant is {v}."),
    _doc("doc_people", "person", "native language", "language",
         "{sp} first language is {v}. | {S} grew up speaking {v}. | {S} is a native {v} speaker. | With {s}, {v} works best.",
         "What is {sp} first language? | What did {s} grow up speaking? | What language works best with {s}?",
         "{sp} first language is {v}."),
    _doc("doc_people", "person", "allergy", "allergen",
         "{S} is allergic to {v}. | Please note {s} cannot have {v}; it's an allergy. | {sp} allergy: {v}. | Catering should know that {s} reacts badly to {v}.",
         "What is {s} allergic to? | What can't {s} have? | What should catering know about {s}?",
         "{S} is allergic to {v}."),
]

RELATIONS: tuple[Relation, ...] = tuple(CATALOG)
BY_NAME: dict[str, Relation] = {r.name: r for r in RELATIONS}
USER_DOMAINS = ("identity", "family", "health", "diet", "home", "work", "schedule", "travel", "money", "belongings",
                "codes", "preferences", "contacts")
DOC_DOMAINS = ("doc_roles", "doc_dates", "doc_places", "doc_quantities", "doc_codes", "doc_decisions", "doc_events",
               "doc_people")
DOMAINS = USER_DOMAINS + DOC_DOMAINS

# The benchmark's chat task asks these (with test values): they stay trained.
BENCH_CHAT_RELATIONS = frozenset({"user name", "user city", "user job", "user pet", "user pet name",
                                  "user favourite colour", "user favourite food", "user birthday", "user partner"})
HELDOUT_SHARE = 0.2
_HELDOUT_SALT = "memgpt-open-heldout-v1"


def _choose_heldout(relations: Sequence[Relation]) -> frozenset[str]:
    """About `HELDOUT_SHARE` of each domain (at least one), ordered by a salted crc32 of the name:
    fixed for a given catalog, spread over every domain, never a benchmark chat slot."""
    out: set[str] = set()
    for domain in DOMAINS:
        members = [r for r in relations if r.domain == domain]
        candidates = sorted((r.name for r in members if r.name not in BENCH_CHAT_RELATIONS),
                            key=lambda n: zlib.crc32(f"{_HELDOUT_SALT}:{n}".encode()))
        out.update(candidates[:max(1, round(HELDOUT_SHARE * len(members)))])
    return frozenset(out)


HELDOUT: frozenset[str] = _choose_heldout(RELATIONS)
TRAIN_RELATIONS: tuple[Relation, ...] = tuple(r for r in RELATIONS if r.name not in HELDOUT)
TEST_RELATIONS: tuple[Relation, ...] = tuple(r for r in RELATIONS if r.name in HELDOUT)


def relations_for(split: str, which: str = "auto", user: bool | None = None) -> tuple[Relation, ...]:
    """The relation types a generator may draw. `which`: "trained", "heldout", "all", or "auto"
    (training draws only trained types; the test split draws every type, with test values).
    `user`: only user facts (True), only document facts (False), or both (None)."""
    if split not in SPLITS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if which == "auto":
        which = "trained" if split == "train" else "all"
    if split == "train" and which != "trained":
        raise ValueError("training draws only trained relation types")
    rs = {"trained": TRAIN_RELATIONS, "heldout": TEST_RELATIONS, "all": RELATIONS}[which]
    return tuple(r for r in rs if user is None or r.is_user == user)


# ---------------------------------------------------------------------------------------------
# facts

_NUMBERS = ("zero", "one", "two", "three", "four", "five", "six")


def join_natural(values: Sequence[str]) -> str:
    """"Jonah", "Jonah and Mateo", "Jonah, Mateo and Ivo"."""
    return values[0] if len(values) == 1 else ", ".join(values[:-1]) + " and " + values[-1]


def with_article(v: str) -> str:
    vowel = v[:1].lower() in "aeiou" and not re.match(r"(?i)u(?:[bcdfgjklmnpqrstvwxz][aeiou]|x)|eu|one\b", v)
    return ("an " if vowel or re.match(r"[AEFHILMNORSX]\d|[AEFHILMNORSX][A-Z]?\b|hour|honest", v) else "a ") + v


@dataclass(frozen=True)
class OpenFact:
    """One drawn fact: its relation, subject (document facts), value(s) and the sentence stating it."""
    relation: Relation
    subject: Subject | None
    values: tuple[str, ...]
    statement: str
    is_update: bool = False
    template: str = ""  # the statement's template: tells whether its first word may be lower-cased

    @property
    def key(self) -> str:
        return self.relation.key if self.subject is None else f"{self.subject.bare} {self.relation.key}"

    @property
    def value(self) -> str:
        """The value as the note holds it: several values joined by ", "."""
        return ", ".join(self.values)

    @property
    def note(self) -> str:
        return f"{self.key}: {self.value}"

    def fill(self, template: str) -> str:
        return fill(template, self.subject, self.values)

    @property
    def questions(self) -> tuple[str, ...]:
        return tuple(self.fill(q) for q in self.relation.questions)

    @property
    def answer(self) -> str:
        return self.fill(self.relation.answer)

    def qa(self, rng: random.Random) -> tuple[str, str]:
        """One way of asking it (in other words than the statement) and the answer."""
        return rng.choice(self.questions), self.answer

    @property
    def topic(self) -> str:
        return self.fill(self.relation.topic)


def fill(template: str, subject: Subject | None, values: Sequence[str]) -> str:
    v = join_natural(list(values)) if values else ""
    s = subject.ref if subject else ""
    out = template.format(v=v, av=with_article(v) if v else "", n=_NUMBERS[len(values)] if len(values) < 7 else str(len(values)),
                          s=s, S=s[:1].upper() + s[1:], sp=f"{s}'s", Sp=f"{s[:1].upper() + s[1:]}'s")
    if template.startswith(("{s}", "{sp}")):  # a subject at the head of a sentence is capitalised
        out = out[:1].upper() + out[1:]
    return out


def _values(rel: Relation, rng: random.Random, split: str, n: int | None = None,
            keep: Sequence[str] = ()) -> tuple[str, ...]:
    if rel.multi is None:
        return (draw_value(rel.kind, rng, split, avoid=keep),)
    n = n if n is not None else rng.randint(*rel.multi)
    out = list(keep)
    while len(out) < n:
        out.append(draw_value(rel.kind, rng, split, avoid=out))
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# invented relation types (training only): an attribute no catalog relation has, so its key can
# only be written by copying the statement's own words, as a held-out type's must be

GENERIC_SHARE = 0.2  # of training facts drawn from an invented relation type
_GENERIC_HEADS: dict[str, str] = {
    "code": "digits6", "number": "digits6", "reference": "ref_code", "password": "password", "contact": "full_name",
    "owner": "full_name", "manager": "full_name", "sponsor": "company", "supplier": "company", "date": "date",
    "deadline": "date", "time": "time", "venue": "venue", "address": "address", "limit": "count", "budget": "amount",
    "rating": "few", "colour": "colour", "label": "word", "day": "weekday", "phone": "phone", "email": "email",
}
_GENERIC_USER = ("My {a} is {v}.|For the record, my {a} is {v}.|Please remember that my {a} is {v}.|"
                 "Just so you know, my {a} is {v}.|The {a} I have is {v}.",
                 "What is my {a}?|Do you remember my {a}?|What did I say my {a} was?|Can you remind me of my {a}?",
                 "Your {a} is {v}.")
_GENERIC_DOC = ("The {a} of {s} is {v}.|{Sp} {a} is {v}.|For {s}, the {a} is {v}.|{S} has {v} as its {a}.|"
                "The {a} for {s} has been set to {v}.",
                "What is the {a} of {s}?|What's {sp} {a}?|Which {a} does {s} have?|Do you know {sp} {a}?",
                "{Sp} {a} is {v}.")


@functools.lru_cache(maxsize=1)
def _catalog_keys() -> frozenset[str]:
    return frozenset(r.key.removeprefix("user ") for r in RELATIONS)


@functools.lru_cache(maxsize=1)
def _heldout_keys() -> tuple[str, ...]:
    return tuple(sorted({r.key.removeprefix("user ") for r in TEST_RELATIONS}))


def _invented_ok(attr: str) -> bool:
    """Not a catalog key, and not ending in a held-out type's key (an invented "orchard date"
    would teach the held-out "<event> date")."""
    return attr not in _catalog_keys() and not any(attr == k or attr.endswith(" " + k) for k in _heldout_keys())


def generic_relation(rng: random.Random, user: bool | None = None) -> Relation:
    """An invented relation type for training ("lantern code", "<pseudo-word> budget"): the
    statement names the attribute, the note's key copies it. Never a catalog relation's key, and
    never one ending in a held-out type's key."""
    while True:
        head = rng.choice(sorted(_GENERIC_HEADS))
        mod = rng.choice(NOUNS) if rng.random() < 0.6 else pseudo_word(rng, "train")
        attr = f"{mod} {head}"
        if _invented_ok(attr):
            break
    user = rng.random() < 0.4 if user is None else user
    kind = _GENERIC_HEADS[head]
    if user:
        st, q, a = (t.replace("{a}", attr) for t in _GENERIC_USER)
        return _user("generic", f"user {attr}", kind, st, q, a, topic=f"your {attr}")
    st, q, a = (t.replace("{a}", attr) for t in _GENERIC_DOC)
    return _doc("generic", rng.choice(sorted(SUBJECT_KINDS)), attr, kind, st, q, a)


def draw_fact(rng: random.Random, split: str, relation: Relation | None = None, subject: Subject | None = None,
              relations: Sequence[Relation] | None = None) -> OpenFact:
    """A fact of `relation` (or one drawn from `relations`, by default `relations_for(split)`),
    with `split`'s values and a statement chosen among the relation's."""
    rel = relation or rng.choice(relations if relations is not None else relations_for(split))
    if rel.subject is not None and subject is None:
        subject = draw_subject(rel.subject, rng, split)
    values = _values(rel, rng, split)
    template = rng.choice(rel.statements)
    return OpenFact(rel, subject, values, fill(template, subject, values), template=template)


USER_UPDATE_LEADS = ("Actually, ", "Correction: ", "Quick update: ", "Sorry, I got that wrong earlier: ",
                     "Scratch what I said before. ", "Update: ", "Things have changed: ",
                     "Just so you know, that's changed: ", "Oh, one correction. ")
DOC_UPDATE_LEADS = ("Update: ", "Correction: ", "As of this week, ", "Please note the change: ", "Amendment: ",
                    "Revised: ")


def lower_first(sentence: str, template: str) -> str:
    """A statement as it reads after a lead ("Actually, my ..."): lower-cased where the template
    starts with an ordinary word; "I ...", a value or a subject name keeps its capital."""
    subject_first = template.startswith(("{s}", "{sp}", "{S}", "{Sp}"))
    if template.startswith("{") and not subject_first:
        return sentence  # starts with a value (a name, a title)
    if subject_first and not sentence.startswith("The "):
        return sentence  # a named subject ("Project Vellan", "Dana Whitfield")
    w = sentence.split(" ", 1)[0]
    if w in ("I", "I'm", "I've", "I'd", "I'll") or w.startswith("I'"):
        return sentence
    return sentence[:1].lower() + sentence[1:]


def update_of(fact: OpenFact, rng: random.Random, split: str) -> OpenFact:
    """A later statement changing `fact`: same key (same subject), a new value. A multi-valued
    fact gains a value while it has room (another son), else one value changes."""
    rel = fact.relation
    if rel.multi is not None:
        if len(fact.values) < rel.multi[1]:
            values = _values(rel, rng, split, n=len(fact.values) + 1, keep=fact.values)
        else:
            i = rng.randrange(len(fact.values))
            new = draw_value(rel.kind, rng, split, avoid=fact.values)
            values = fact.values[:i] + (new,) + fact.values[i + 1:]
    else:
        values = (draw_value(rel.kind, rng, split, avoid=fact.values),)
    if rel.updates and rng.random() < 0.7:
        template = rng.choice(rel.updates)
        statement = fill(template, fact.subject, values)
    else:
        lead = rng.choice(USER_UPDATE_LEADS if rel.is_user else DOC_UPDATE_LEADS)
        template = rng.choice(rel.statements)
        s = fill(template, fact.subject, values)
        statement = lead + (s if lead.endswith(". ") else lower_first(s, template))
        template = lead + template
    return OpenFact(rel, fact.subject, values, statement, is_update=True, template=template)


def statement_after_lead(f: OpenFact) -> str:
    """The fact's statement as it reads after "So, " or "Also, "."""
    return lower_first(f.statement, f.template or "{v}")


def parse_note(note: str) -> tuple[str, str]:
    """A note's key (before the first ": ") and value."""
    key, sep, value = note.partition(": ")
    if not sep or not key or not value:
        raise ValueError(f"not a 'key: value' note: {note!r}")
    return key, value


_DOC_SUFFIXES = sorted(((r.key, r) for r in RELATIONS if not r.is_user), key=lambda kr: -len(kr[0]))


def relations_of_key(key: str) -> list[Relation]:
    """The relation types a note key can belong to: a user key exactly, a document key by its
    suffix after a subject. Document relations sharing a suffix ("captain" of a team or a ship)
    are told apart by the subject only, so several can come back."""
    if key in BY_NAME and BY_NAME[key].is_user:
        return [BY_NAME[key]]
    if key.startswith("user "):
        return []
    return [r for suffix, r in _DOC_SUFFIXES if key.endswith(" " + suffix) and len(key) > len(suffix) + 1]


KEY_ALIASES_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "key_aliases.json")


@functools.lru_cache(maxsize=None)
def key_aliases() -> dict[str, tuple[str, ...]]:
    """Other wordings of each relation type that a careful note-taker could use for its key
    ("main act" for "headliner"), by relation name: for grading only (the corpus teaches the
    catalog's keys). Written blind to any model's notes, from the relation's name, statements and
    questions; a wording that would fit another relation of the catalog is left out."""
    with open(KEY_ALIASES_FILE, encoding="utf-8") as f:
        raw = json.load(f)
    unknown = sorted(set(raw) - set(BY_NAME))
    if unknown:
        raise ValueError(f"{KEY_ALIASES_FILE}: unknown relation names {unknown[:3]}")
    return {name: tuple(aliases) for name, aliases in raw.items()}


def accepted_keys(key: str) -> frozenset[str]:
    """The note keys that name the same relation as `key`, a catalog key with its subject ("St
    Zara's head teacher"): itself, and each alias of its relation type with the same subject
    ("St Zara's head"). A key of no catalog relation (an invented one) accepts only itself."""
    out = {key}
    for r in relations_of_key(key):
        prefix = "user " if r.is_user else key[:len(key) - len(r.key)]
        out.update(prefix + a for a in key_aliases().get(r.name, ()))
    return frozenset(out)


def validate(relations: Sequence[Relation] = RELATIONS) -> list[str]:
    """Problems with the catalog (an empty list when it is sound)."""
    problems = []
    if len({r.name for r in relations}) != len(relations):
        problems.append("duplicate relation names")
    for r in relations:
        if r.domain not in DOMAINS:
            problems.append(f"{r.name}: unknown domain {r.domain}")
        if r.kind not in VALUE_KINDS:
            problems.append(f"{r.name}: unknown value kind {r.kind}")
        if len(set(r.statements)) < 4 or len(set(r.questions)) < 3:
            problems.append(f"{r.name}: {len(r.statements)} statements, {len(r.questions)} questions")
        for t in r.statements + r.updates + (r.answer,):
            if "{v}" not in t and "{av}" not in t:
                problems.append(f"{r.name}: no value in {t!r}")
        for q in r.questions:
            if "{v}" in q or "{av}" in q:
                problems.append(f"{r.name}: the question gives the value away: {q!r}")
        if not r.is_user:
            for t in r.statements + r.questions + r.updates + (r.answer,):
                if not re.search(r"\{(s|S|sp|Sp)\}", t):
                    problems.append(f"{r.name}: no subject in {t!r}")
        if ": " in r.key or r.key != r.key.strip():
            problems.append(f"{r.name}: bad key {r.key!r}")
        if r.multi is not None and not any("{n}" in t or "{v}" in t for t in r.statements):
            problems.append(f"{r.name}: multi-valued without a list")
    return problems
