"""A deterministic, realistic demo catalog for a WeChat-Mini-Shop-style marketplace.

`generate_catalog(seed, product_count)` returns shops and products as the generated
`xiaodian.v1` messages, ready for UpsertShops / UpsertProducts. The same seed always gives the
same catalog (all randomness comes from one `random.Random(seed)`, nothing depends on hash order
or the clock; CPython keeps `random`'s algorithms stable within a version), and a different seed
gives a different one. `stream_catalog` / `iter_products` give the same products one at a time,
so a benchmark can make a million of them in bounded memory (about 20-25 s on one core).

What the data looks like:

- Categories (`CATEGORIES`) each have their own nouns, materials, attributes, audiences, brands
  and price range. Titles are Chinese with Latin brand names, digits and model words
  ("山下有松 羊绒围巾女 2025新款 冬季加厚", "【包邮】 磁吸手机壳 适用iPhone15 防摔"), 5-60
  characters, clipped on word boundaries; a few are written in full-width letters and digits.
- Shops s00001, s00002, ...: about one per `PRODUCTS_PER_SHOP` products, unique Chinese names
  (山下有松官方旗舰店, 小美的围巾铺), ~15 % brand-verified (selling only their own brand),
  opened over the last five years with ~10 % in the last 90 days, experience scores clustered
  around 4.1-4.7 with a lower tail, long-tailed review counts. Shop sizes are Zipf-like.
- Products p000001, p000002, ...: lognormal prices inside the category range, mostly ending in
  9 or .90 as shelf prices do, long-tailed sales (many zeros), ~5 % out of stock, long-tailed
  rating counts (many zeros) with average ratings 3.5-5, and a hero-image report (mostly square
  800x800 JPEGs on white; `quality` is a stand-in formula). About 5 % of products belong
  to white-label groups: the same listing copied by shops that are not the original's, with the
  same dHash or one 1-3 bits away. Everything happens before `now_s`: shops opened up to five
  years before it, products listed up to two years before it (and after their shop opened).
- Imitations and synonyms: about a fifth of the unbranded listings with a precious material
  (`IMITATIONS`: 羊绒, 羊毛, 真丝, 桑蚕丝, 真皮, 牛皮) imitate it and say so with a negating
  modifier (仿羊绒, 类真丝, 人造羊毛, 非真皮) at about half the price; about 30 % of the titles of
  a type with synonyms (`SYNONYM_GROUPS`) write another word of its group (手机套 or 保护壳 for
  手机壳, 连帽衫 for 卫衣).

`stream_catalog_with_truth` gives each product with its `ProductTruth`: its type, material (and
whether it is an imitation), brand, shop, the listing it copies, and the words of its title, as
the generator chose them. The relevance benchmark judges search results by it, never by a title.

Products are a prefix-stable stream: with the same seed and an explicit `shop_count`, the first
N products of a larger catalog are the products of a catalog of N. Synonyms and imitations draw
from a second stream of their own, so every other field is what it was before they existed.
"""

from __future__ import annotations

import math
import random
from bisect import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import TypeVar

from google.protobuf.timestamp_pb2 import Timestamp

from xiaodian.v1 import search_service_pb2 as pb

DEFAULT_NOW_S = 1_790_000_000
"""Default "now" (2026-09-21 UTC): every timestamp in the catalog lies before it."""

PRODUCTS_PER_SHOP = 50
"""Default shop count is product_count // PRODUCTS_PER_SHOP (at least one)."""

DAY_S = 86_400
YEAR_S = 365 * DAY_S
TITLE_MIN_CHARS = 5
TITLE_MAX_CHARS = 60


@dataclass(frozen=True)
class Category:
    """A product category with its own vocabulary and price range."""

    category_id: str
    name: str
    weight: int
    """Relative share of shops (and so of products) in this category."""
    shop_words: tuple[str, ...]
    """Short words for shop names: 围巾 in 小美的围巾铺."""
    nouns: tuple[str, ...]
    materials: tuple[str, ...]
    attributes: tuple[str, ...]
    audiences: tuple[str, ...]
    brands: tuple[str, ...]
    price_yuan: tuple[float, float, float]
    """Lowest, median and highest price in yuan."""


# Vocabularies. One line per kind of word keeps them readable, so the formatter leaves them alone.
# fmt: off
CATEGORIES: tuple[Category, ...] = (
    Category(
        category_id="c-scarf", name="服饰/围巾", weight=6,
        shop_words=("围巾", "丝巾", "披肩"),
        nouns=("围巾", "披肩", "丝巾", "围脖", "方巾", "长巾"),
        materials=("羊绒", "羊毛", "真丝", "桑蚕丝", "棉麻", "针织", "仿羊绒"),
        attributes=("2025新款", "冬季", "加厚", "保暖", "百搭", "韩版", "ins风", "格子", "纯色", "高级感",
                    "礼盒装", "长款", "双面", "秋冬", "送妈妈", "流苏", "180x70cm"),
        audiences=("女", "男士", "女士", "情侣", "儿童"),
        brands=("山下有松", "鄂尔多斯", "恒源祥", "鹿王", "上海故事", "UNIQLO"),
        price_yuan=(19.9, 129.0, 2999.0),
    ),
    Category(
        category_id="c-womenswear", name="女装", weight=14,
        shop_words=("女装", "衣橱", "服饰"),
        nouns=("连衣裙", "针织开衫", "羽绒服", "卫衣", "半身裙", "衬衫", "阔腿裤", "毛衣", "大衣", "T恤"),
        materials=("纯棉", "真丝", "雪纺", "羊毛", "醋酸", "牛仔", "莫代尔", "天丝"),
        attributes=("2025新款", "春秋", "夏季", "显瘦", "宽松", "法式", "气质", "小个子", "韩版", "高腰",
                    "收腰", "大码", "温柔风", "通勤", "S-XL"),
        audiences=("女", "女士", "中年妈妈", "学生"),
        brands=("太平鸟", "伊芙丽", "欧时力", "ONLY", "VERO MODA", "乐町", "URBAN REVIVO", "茵曼"),
        price_yuan=(29.9, 169.0, 1999.0),
    ),
    Category(
        category_id="c-menswear", name="男装", weight=8,
        shop_words=("男装", "型男", "服饰"),
        nouns=("夹克", "T恤", "休闲裤", "羽绒服", "衬衫", "POLO衫", "卫衣", "西装", "冲锋衣", "牛仔裤"),
        materials=("纯棉", "冰丝", "羊毛", "牛仔", "亚麻", "棉麻"),
        attributes=("商务", "休闲", "宽松", "修身", "潮牌", "冬季加厚", "2025新款", "大码", "免烫", "夏季薄款",
                    "中年爸爸", "XL", "3XL"),
        audiences=("男", "男士", "中老年", "青年"),
        brands=("海澜之家", "七匹狼", "雅戈尔", "利郎", "Jack&Jones", "劲霸", "GXG", "森马"),
        price_yuan=(39.0, 199.0, 2999.0),
    ),
    Category(
        category_id="c-shoes", name="鞋靴", weight=8,
        shop_words=("鞋", "鞋业", "鞋靴"),
        nouns=("运动鞋", "板鞋", "雪地靴", "马丁靴", "老爹鞋", "帆布鞋", "拖鞋", "小白鞋", "跑步鞋", "乐福鞋"),
        materials=("真皮", "牛皮", "网面", "帆布", "加绒", "飞织"),
        attributes=("防滑", "透气", "增高", "软底", "2025新款", "轻便", "百搭", "厚底", "减震", "39码",
                    "42码", "秋冬", "一脚蹬"),
        audiences=("女", "男", "儿童", "学生", "中老年"),
        brands=("Nike", "adidas", "李宁", "安踏", "特步", "回力", "斯凯奇", "New Balance", "百丽", "361度"),
        price_yuan=(19.9, 259.0, 1999.0),
    ),
    Category(
        category_id="c-makeup", name="美妆", weight=9,
        shop_words=("美妆", "彩妆", "美肤"),
        nouns=("口红", "粉底液", "眼影盘", "气垫BB霜", "卸妆水", "腮红", "睫毛膏", "防晒霜", "精华液", "面霜",
               "面膜"),
        materials=("玻尿酸", "烟酰胺", "积雪草", "胶原蛋白", "视黄醇", "二裂酵母"),
        attributes=("持久", "不脱色", "控油", "遮瑕", "保湿", "补水", "敏感肌", "哑光", "小样", "30ml",
                    "50ml", "SPF50+", "套装", "正装", "10片装"),
        audiences=("女", "男士", "学生党", "孕妇可用"),
        brands=("完美日记", "花西子", "珀莱雅", "薇诺娜", "欧莱雅", "雅诗兰黛", "兰蔻", "MAC", "橘朵", "自然堂"),
        price_yuan=(9.9, 99.0, 1299.0),
    ),
    Category(
        category_id="c-personal-care", name="个护", weight=6,
        shop_words=("个护", "日化", "洗护"),
        nouns=("洗发水", "沐浴露", "牙膏", "洗面奶", "身体乳", "护手霜", "护发素", "香皂", "漱口水", "洗衣液"),
        materials=("氨基酸", "无硅油", "薄荷", "海盐", "茶树", "生姜"),
        attributes=("去屑", "控油", "持久留香", "家庭装", "500ml", "1L", "大瓶", "温和", "深层清洁", "2支装",
                    "补充装"),
        audiences=("男士", "女士", "儿童", "全家"),
        brands=("舒肤佳", "云南白药", "海飞丝", "佳洁士", "潘婷", "蓝月亮", "多芬", "阿道夫", "滋源"),
        price_yuan=(5.9, 49.0, 899.0),
    ),
    Category(
        category_id="c-snacks", name="食品/零食", weight=10,
        shop_words=("零食", "吃货", "食品"),
        nouns=("坚果礼盒", "牛肉干", "辣条", "蛋黄酥", "薯片", "每日坚果", "螺蛳粉", "鸭脖", "果干", "苏打饼干"),
        materials=("原味", "麻辣", "五香", "黑糖", "无蔗糖", "芝士", "海苔"),
        attributes=("独立包装", "网红", "整箱", "500g", "1kg", "30袋", "年货", "办公室", "囤货", "零添加",
                    "休闲零食", "量贩装", "临期特价"),
        audiences=("儿童", "孕妇", "老人", "学生"),
        brands=("三只松鼠", "良品铺子", "百草味", "卫龙", "好欢螺", "洽洽", "来伊份", "周黑鸭", "盐津铺子"),
        price_yuan=(4.9, 39.0, 599.0),
    ),
    Category(
        category_id="c-tea", name="茶叶", weight=4,
        shop_words=("茶叶", "茶庄", "茶行"),
        nouns=("龙井", "普洱茶饼", "铁观音", "大红袍", "白茶", "茉莉花茶", "碧螺春", "红茶", "岩茶", "单丛"),
        materials=("明前", "特级", "一级", "古树", "高山", "老枞", "头采"),
        attributes=("2025新茶", "礼盒装", "250g", "500g", "357g", "浓香型", "清香型", "罐装", "散装", "送礼",
                    "口粮茶", "送长辈"),
        audiences=(),
        brands=("西湖牌", "大益", "八马", "小罐茶", "竹叶青", "张一元", "中茶", "卢正浩", "吴裕泰"),
        price_yuan=(19.9, 199.0, 3999.0),
    ),
    Category(
        category_id="c-fruit", name="生鲜水果", weight=5,
        shop_words=("果园", "鲜果", "农场"),
        nouns=("赣南脐橙", "红富士苹果", "车厘子", "猕猴桃", "贵妃芒", "阳光玫瑰葡萄", "沃柑", "水蜜桃", "丑橘",
               "蓝莓"),
        materials=("现摘", "新鲜", "当季", "树上熟", "高山"),
        attributes=("5斤装", "10斤", "整箱", "大果", "坏果包赔", "产地直发", "助农", "JJ级", "顺丰冷链",
                    "甜过初恋", "一级果"),
        audiences=(),
        brands=("褚橙", "佳沛", "都乐", "百果园", "农夫山泉17.5°"),
        price_yuan=(9.9, 49.0, 599.0),
    ),
    Category(
        category_id="c-baby", name="母婴", weight=6,
        shop_words=("母婴", "宝贝", "童装"),
        nouns=("纸尿裤", "拉拉裤", "奶瓶", "婴儿湿巾", "婴儿推车", "儿童餐椅", "吸奶器", "爬行垫", "口水巾",
               "连体衣"),
        materials=("进口", "A类", "加厚", "升级款", "有机"),
        attributes=("超薄", "透气", "防胀气", "新生儿", "L码", "XL码", "80抽", "大包装", "可折叠", "轻便",
                    "0-3岁", "四季通用"),
        audiences=("婴儿", "宝宝", "新生儿", "儿童"),
        brands=("帮宝适", "花王", "好奇", "贝亲", "好孩子", "全棉时代", "Babycare", "可优比", "十月结晶"),
        price_yuan=(9.9, 89.0, 3999.0),
    ),
    Category(
        category_id="c-phone-accessories", name="数码配件/手机壳", weight=7,
        shop_words=("数码", "手机壳", "数码配件"),
        nouns=("手机壳", "钢化膜", "数据线", "充电器", "充电宝", "蓝牙耳机", "手机支架", "耳机保护套", "车载支架"),
        materials=("磁吸", "透明", "编织", "硅胶", "无线", "迷你"),
        attributes=("适用iPhone15", "iPhone16 Pro Max", "华为Mate60", "华为Mate70", "小米14", "OPPO Reno12",
                    "vivo X100", "防摔", "快充", "20W", "65W", "PD快充", "10000mAh", "ins风", "全包", "超薄",
                    "Type-C", "MagSafe"),
        audiences=("女", "男", "情侣"),
        brands=("绿联", "Anker", "倍思", "品胜", "ESR亿色", "图拉斯", "摩米士", "小米", "公牛"),
        price_yuan=(5.9, 39.0, 699.0),
    ),
    Category(
        category_id="c-home", name="家居", weight=7,
        shop_words=("家居", "家纺", "生活"),
        nouns=("四件套", "枕头", "乳胶枕", "收纳箱", "地毯", "窗帘", "床垫", "毛毯", "香薰", "抱枕", "蚕丝被"),
        materials=("纯棉", "全棉", "天丝", "珊瑚绒", "竹纤维", "加厚", "简约"),
        attributes=("北欧", "ins风", "加厚", "简约", "家用", "可水洗", "1.8m床", "1.5m床", "卧室", "客厅",
                    "大号", "A类母婴级", "奶油风"),
        audiences=("儿童", "学生宿舍", "家庭"),
        brands=("罗莱", "水星家纺", "富安娜", "南极人", "无印良品", "梦洁", "网易严选", "LOVO"),
        price_yuan=(9.9, 129.0, 3999.0),
    ),
    Category(
        category_id="c-kitchen", name="厨具", weight=6,
        shop_words=("厨具", "厨房", "杯具"),
        nouns=("保温杯", "炒锅", "不粘锅", "菜刀", "电饭煲", "砧板", "空气炸锅", "饭盒", "水杯", "咖啡杯"),
        materials=("不锈钢", "316不锈钢", "铸铁", "陶瓷", "玻璃", "钛", "304不锈钢"),
        attributes=("大容量", "500ml", "1L", "家用", "无涂层", "便携", "燃气灶适用", "电磁炉通用", "防烫", "送礼",
                    "高颜值", "4L"),
        audiences=("学生", "男士", "女士", "儿童", "宝宝"),
        brands=("苏泊尔", "九阳", "美的", "膳魔师", "象印", "虎牌", "张小泉", "双立人", "乐扣乐扣", "炊大皇"),
        price_yuan=(9.9, 99.0, 1999.0),
    ),
    Category(
        category_id="c-pet", name="宠物", weight=4,
        shop_words=("宠物", "萌宠", "猫咪"),
        nouns=("猫粮", "狗粮", "猫砂", "冻干", "猫抓板", "宠物窝", "牵引绳", "逗猫棒", "猫罐头", "狗零食"),
        materials=("进口", "国产", "天然", "加大号", "网红"),
        attributes=("成猫", "幼猫", "全价", "10kg", "2.5kg", "除臭", "低尘", "四季通用", "耐咬", "营养",
                    "鸡肉味", "三文鱼味"),
        audiences=("猫咪", "狗狗", "小型犬", "大型犬", "幼犬"),
        brands=("皇家", "渴望", "麦富迪", "伯纳天纯", "比瑞吉", "疯狂小狗", "卫仕", "网易严选"),
        price_yuan=(5.9, 79.0, 999.0),
    ),
    Category(
        category_id="c-outdoor", name="运动户外", weight=5,
        shop_words=("户外", "运动", "露营"),
        nouns=("冲锋衣", "瑜伽垫", "帐篷", "登山杖", "跳绳", "速干衣", "骑行服", "瑜伽裤", "泳镜", "露营椅"),
        materials=("防水", "GORE-TEX", "速干", "TPE", "铝合金", "碳素"),
        attributes=("三合一", "户外", "防风", "加厚", "专业", "轻量化", "折叠", "透气", "2025新款", "UPF50+",
                    "3-4人", "防晒"),
        audiences=("男", "女", "情侣", "儿童"),
        brands=("骆驼", "探路者", "北面", "凯乐石", "迪卡侬", "Keep", "lululemon", "牧高笛", "伯希和"),
        price_yuan=(9.9, 199.0, 2999.0),
    ),
)

BRAND_LATIN_NAMES: dict[str, str] = {
    "鄂尔多斯": "ERDOS", "太平鸟": "PEACEBIRD", "海澜之家": "HLA", "李宁": "LI-NING", "安踏": "ANTA",
    "特步": "XTEP", "回力": "WARRIOR", "斯凯奇": "SKECHERS", "完美日记": "Perfect Diary", "花西子": "Florasis",
    "珀莱雅": "PROYA", "薇诺娜": "WINONA", "欧莱雅": "L'OREAL", "佳洁士": "Crest", "三只松鼠": "Three Squirrels",
    "绿联": "UGREEN", "倍思": "Baseus", "苏泊尔": "SUPOR", "膳魔师": "THERMOS", "双立人": "ZWILLING",
    "骆驼": "CAMEL", "北面": "The North Face", "凯乐石": "KAILAS", "迪卡侬": "DECATHLON", "皇家": "ROYAL CANIN",
    "渴望": "ORIJEN", "佳沛": "Zespri", "都乐": "Dole", "好孩子": "gb",
}
"""Latin names that titles sometimes write right after a Chinese brand (鄂尔多斯ERDOS)."""

MARKETING_WORDS: tuple[str, ...] = (
    "包邮", "正品", "官方旗舰", "现货速发", "顺丰包邮", "品质保证", "限时特惠", "买一送一", "热卖", "爆款",
    "七天无理由", "工厂直销", "厂家直发", "假一赔十", "新品上市", "官方正品",
)
MARKETING_TAGS: tuple[str, ...] = (
    "【包邮】", "【官方正品】", "【现货速发】", "【买2送1】", "【顺丰包邮】", "【新品上市】", "【限时秒杀】",
    "「新品」", "[爆款]", "【直播专享】", "【达人推荐】", "【99元3件】",
)
SHOP_NICKNAMES: tuple[str, ...] = (
    "小美", "阿珍", "老王", "糖糖", "桃子", "木子", "大鹏", "一只喵", "芒果", "小鹿", "阿飞", "花花", "豆豆",
    "七七", "小雨", "阿强", "丽丽", "胖虎", "团团", "圆圆", "小林", "阿杰", "安安", "甜甜", "米粒", "橙子",
    "猫小姐", "柚子", "可可", "乐乐", "张姐", "刘哥", "陈阿姨", "小周", "阿May", "晓晓",
)
SHOP_ADJECTIVES: tuple[str, ...] = (
    "暖暖", "优品", "臻选", "好物", "简约", "悠然", "素雅", "时光", "初见", "森系", "小众", "匠心", "原创",
    "温柔", "慢生活", "一间",
)
SHOP_CITIES: tuple[str, ...] = (
    "杭州", "义乌", "广州", "深圳", "上海", "成都", "苏州", "桐乡", "晋江", "景德镇", "福州", "潮汕", "温州",
    "青岛", "云南", "安溪", "武夷山", "北京", "武汉", "长沙",
)
SHOP_SUFFIXES: tuple[str, ...] = (
    "小铺", "铺", "小店", "屋", "工作室", "生活馆", "优选", "严选", "精品店", "百货", "集合店", "杂货铺",
)
FACTORY_SUFFIXES: tuple[str, ...] = ("工厂店", "源头工厂", "批发部", "厂家直销店", "货源基地")
LATIN_SHOP_WORDS: tuple[str, ...] = ("Lily", "MOMO", "Coco", "Yuki", "Amy", "Mini", "JOJO", "Luna", "ZOE", "Kiki")
BRAND_SHOP_SUFFIXES: tuple[str, ...] = ("旗舰店", "专卖店", "专营店", "官方店", "授权店")
# fmt: on
CATEGORY_CUMULATIVE = tuple(accumulate(category.weight for category in CATEGORIES))

IMAGE_SIZES: tuple[tuple[int, int], ...] = (
    (800, 800),
    (1000, 1000),
    (1080, 1080),
    (750, 1000),
    (1200, 400),
    (640, 480),
    (1080, 1920),
)
IMAGE_SIZE_WEIGHTS: tuple[int, ...] = (68, 8, 6, 11, 4, 2, 1)
IMAGE_FORMATS: tuple[pb.ImageFormat, ...] = (
    pb.IMAGE_FORMAT_JPEG,
    pb.IMAGE_FORMAT_PNG,
    pb.IMAGE_FORMAT_WEBP,
    pb.IMAGE_FORMAT_BMP,
)
IMAGE_FORMAT_WEIGHTS: tuple[int, ...] = (75, 12, 12, 1)
IMAGE_COUNTS: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8, 9)
IMAGE_COUNT_WEIGHTS: tuple[int, ...] = (3, 4, 6, 8, 12, 15, 15, 12, 25)
IMAGE_SIZE_CUMULATIVE = tuple(accumulate(IMAGE_SIZE_WEIGHTS))
IMAGE_FORMAT_CUMULATIVE = tuple(accumulate(IMAGE_FORMAT_WEIGHTS))
IMAGE_COUNT_CUMULATIVE = tuple(accumulate(IMAGE_COUNT_WEIGHTS))

BRAND_SHOP_SHARE = 0.15
NEW_SHOP_SHARE = 0.10
NEW_SHOP_DAYS = 90
SHOP_SECOND_CATEGORY_SHARE = 0.25
RESELLER_BRAND_SHARE = 0.25
"""Share of a non-brand shop's products that carry a brand (authorised resellers)."""
WHITE_LABEL_SHARE = 0.075
"""Share of non-brand-shop products drawn as white-label listings; about 5 % of all products end up
in a group with another shop's copy."""
WHITE_LABEL_GROUPS_PER_CATEGORY = 64
OUT_OF_STOCK_SHARE = 0.05
SYNONYM_GROUPS: tuple[tuple[str, ...], ...] = (
    ("手机壳", "手机套", "保护壳"),
    ("卫衣", "连帽衫"),
    ("充电宝", "移动电源"),
    ("纸尿裤", "尿不湿"),
    ("洗面奶", "洁面乳"),
)
"""Words sellers use for one product type; the first is the category noun (the type in the truth).
The engine's default ranking profile is to ship the same groups (issue 21)."""
SYNONYM_SHARE = 0.3
"""Share of titles of a type with synonyms that write another word of its group (手机套, 保护壳)."""
IMITATION_MODIFIERS: tuple[str, ...] = ("仿", "类", "非", "假", "人造")
"""The negating modifiers the engine is to recognise before a material (仿羊绒 is not 羊绒; SPEC §3)."""
IMITATIONS: dict[str, tuple[str, ...]] = {
    "羊绒": ("仿羊绒", "类羊绒"),
    "羊毛": ("仿羊毛", "人造羊毛"),
    "真丝": ("仿真丝", "类真丝"),
    "桑蚕丝": ("仿桑蚕丝",),
    "真皮": ("仿真皮", "非真皮", "人造真皮"),
    "牛皮": ("仿牛皮", "人造牛皮"),
}
"""Precious materials and how imitation listings write them (a modifier, then the material)."""
IMITATION_SHARE = 0.2
"""Share of unbranded listings with a precious material that are imitations of it."""
IMITATION_PRICE_PREMIUM = -0.8
"""Imitations sell at about e**-0.8 = 45 % of the category's usual price."""
SHOP_ZIPF_EXPONENT = 1.0
SHOP_ZIPF_OFFSET = 5.0

T = TypeVar("T")

FULLWIDTH = {code: code + 0xFEE0 for code in range(0x21, 0x7F)}
"""str.translate table from printable ASCII to full-width forms (Ａ, １, ！)."""


@dataclass(frozen=True)
class Catalog:
    """Shops and their products; every product's shop is in `shops`."""

    shops: list[pb.Shop]
    products: list[pb.Product]


@dataclass(frozen=True)
class ProductTruth:
    """What a product is, as its generator knows it (not as any engine reads its title): the
    judgements of the relevance benchmark come from here.

    Invariants: `type_word` is `product_type` or a word of its `SYNONYM_GROUPS` group;
    `material_word` is `material`, or for an imitation one of `IMITATIONS[material]` (and then
    `imitation` is true); both words are in the title, `material_word` right before `type_word`.
    """

    product_id: str
    shop_id: str
    category_id: str
    product_type: str
    """The category noun (围巾, 手机壳), whatever word the title uses for it."""
    type_word: str
    """The word the title uses for the type: 手机壳, or its synonym 手机套."""
    material: str | None
    """The plain material (羊绒), also for an imitation of it; None when the title names none."""
    material_word: str | None
    """The material as the title writes it: 羊绒, or 仿羊绒 for an imitation."""
    imitation: bool
    """True when the product imitates `material` (仿羊绒, 人造羊毛, 非真皮): it is not made of it."""
    brand: str | None
    copy_of: str | None
    """For a white-label copy, the product_id of the listing it copies (the group's first)."""
    title_words: tuple[str, ...]
    """The words of the title as written (brand, head phrase, attributes, tags), in order."""


@dataclass(frozen=True)
class _ShopPlan:
    """What product generation needs to know about a shop."""

    shop_id: str
    categories: tuple[Category, ...]
    """Primary category first."""
    brand: str
    """The brand of a brand-verified shop; empty otherwise."""
    opened_at_s: int
    sales_boost: float
    """Added to the log-mean of its products' sales."""


@dataclass(frozen=True)
class _Listing:
    """What a seller writes and uploads for a product, before the per-product numbers."""

    words: _TitleWords
    brand: str
    price_fen: int
    report: pb.HeroImageReport


@dataclass(frozen=True)
class _TitleWords:
    """The descriptive words of a listing and what they say."""

    head: str
    """The head phrase (material + noun + audience): 羊绒围巾女. Titles always keep it."""
    words: tuple[str, ...]
    """The head and the attributes, in title order."""
    plain_head: str
    """The head as the category's own words write it (no synonym, no imitation): never longer."""
    product_type: str
    type_word: str
    material: str | None
    material_word: str | None
    imitation: bool


@dataclass(frozen=True)
class _WhiteLabelGroup:
    """One listing copied by other shops: same words, similar price, (nearly) the same image."""

    origin_shop_id: str
    origin_product_id: str
    listing: _Listing


def generate_catalog(
    seed: int, product_count: int, shop_count: int | None = None, now_s: int = DEFAULT_NOW_S
) -> Catalog:
    """Builds a whole catalog in memory. See the module docstring for what it looks like."""
    shops, products = stream_catalog(seed, product_count, shop_count, now_s)
    return Catalog(shops=shops, products=list(products))


def stream_catalog(
    seed: int, product_count: int, shop_count: int | None = None, now_s: int = DEFAULT_NOW_S
) -> tuple[list[pb.Shop], Iterator[pb.Product]]:
    """The shops, and the same products as `generate_catalog` made one at a time on demand."""
    shops, pairs = stream_catalog_with_truth(seed, product_count, shop_count, now_s)
    return shops, (product for product, _ in pairs)


def stream_catalog_with_truth(
    seed: int, product_count: int, shop_count: int | None = None, now_s: int = DEFAULT_NOW_S
) -> tuple[list[pb.Shop], Iterator[tuple[pb.Product, ProductTruth]]]:
    """`stream_catalog` with each product's `ProductTruth` beside it (same shops, same products)."""
    if product_count < 0:
        raise ValueError(f"product_count must be >= 0, got {product_count}")
    if shop_count is None:
        shop_count = max(1, product_count // PRODUCTS_PER_SHOP)
    if shop_count < 1:
        raise ValueError(f"shop_count must be >= 1, got {shop_count}")
    rng = random.Random(seed)
    # Synonyms and imitations draw from their own stream, so adding them left every other
    # draw (and so every other field, and the catalogs recorded in benchmark history) as it was.
    variants = random.Random(f"xiaodian-demo-variants-{seed}")
    shops, plans, size_weights = _make_shops(rng, shop_count, now_s)
    return shops, _products(rng, variants, product_count, plans, size_weights, now_s)


def iter_products(
    seed: int, product_count: int, shop_count: int | None = None, now_s: int = DEFAULT_NOW_S
) -> Iterator[pb.Product]:
    """Just the products of `stream_catalog`, in bounded memory."""
    return stream_catalog(seed, product_count, shop_count, now_s)[1]


# Shops


def _make_shops(rng: random.Random, shop_count: int, now_s: int) -> tuple[list[pb.Shop], list[_ShopPlan], list[float]]:
    """Shops, their plans and their Zipf-like size weights (shuffled, so s00001 is not always largest)."""
    size_weights = [(rank + SHOP_ZIPF_OFFSET) ** -SHOP_ZIPF_EXPONENT for rank in range(shop_count)]
    rng.shuffle(size_weights)
    mean_weight = sum(size_weights) / shop_count
    taken_names: set[str] = set()
    brand_shop_counts: dict[str, int] = {}
    shops: list[pb.Shop] = []
    plans: list[_ShopPlan] = []
    for index in range(shop_count):
        shop_id = f"s{index + 1:05d}"
        relative_size = size_weights[index] / mean_weight
        categories = _shop_categories(rng)
        is_brand = rng.random() < BRAND_SHOP_SHARE
        brand = rng.choice(categories[0].brands) if is_brand else ""
        if is_brand:
            categories = categories[:1]
        name = _unique_shop_name(rng, categories[0], brand, brand_shop_counts, taken_names)
        is_new = rng.random() < NEW_SHOP_SHARE
        if is_new:
            opened_at_s = now_s - rng.randint(DAY_S, NEW_SHOP_DAYS * DAY_S - 1)
        else:
            opened_at_s = now_s - rng.randint(NEW_SHOP_DAYS * DAY_S, 5 * YEAR_S)
        shops.append(
            pb.Shop(
                shop_id=shop_id,
                name=name,
                is_brand=is_brand,
                opened_at=Timestamp(seconds=opened_at_s),
                experience_score=_experience_score(rng),
                experience_review_count=_experience_review_count(rng, relative_size, is_new),
            )
        )
        sales_boost = 0.25 * math.log(relative_size) + (0.7 if is_brand else 0.0)
        plans.append(_ShopPlan(shop_id, categories, brand, opened_at_s, sales_boost))
    return shops, plans, size_weights


def _shop_categories(rng: random.Random) -> tuple[Category, ...]:
    """A primary category, and for some shops a second one."""
    primary = _weighted(rng, CATEGORIES, CATEGORY_CUMULATIVE)
    if rng.random() >= SHOP_SECOND_CATEGORY_SHARE:
        return (primary,)
    secondary = _weighted(rng, CATEGORIES, CATEGORY_CUMULATIVE)
    return (primary,) if secondary is primary else (primary, secondary)


def _unique_shop_name(
    rng: random.Random, category: Category, brand: str, brand_shop_counts: dict[str, int], taken: set[str]
) -> str:
    """A shop name not yet taken: a few random tries, then a numbered branch (2号店, 3号店...)."""
    if brand:
        brand_shop_counts[brand] = brand_shop_counts.get(brand, 0) + 1
        if brand_shop_counts[brand] == 1:
            name = f"{brand}官方旗舰店"
            taken.add(name)
            return name
    for _ in range(8):
        name = _brand_shop_name(rng, category, brand) if brand else _small_shop_name(rng, category)
        if name not in taken:
            taken.add(name)
            return name
    base, branch = name, 2
    while (name := f"{base}{branch}号店") in taken:
        branch += 1
    taken.add(name)
    return name


def _brand_shop_name(rng: random.Random, category: Category, brand: str) -> str:
    """A brand shop other than the official flagship: 李宁运动鞋专营店, 鄂尔多斯杭州专卖店."""
    suffix = rng.choice(BRAND_SHOP_SUFFIXES)
    if rng.random() < 0.5:
        return f"{brand}{rng.choice(category.shop_words)}{suffix}"
    return f"{brand}{rng.choice(SHOP_CITIES)}{suffix}"


def _small_shop_name(rng: random.Random, category: Category) -> str:
    """A non-brand shop: 小美的围巾铺, 义乌围巾工厂店, 暖暖围巾屋, Lily手机壳小铺."""
    word = rng.choice(category.shop_words)
    pattern = rng.randrange(5)
    if pattern == 0:
        return f"{rng.choice(SHOP_NICKNAMES)}的{word}{rng.choice(SHOP_SUFFIXES)}"
    if pattern == 1:
        return f"{rng.choice(SHOP_NICKNAMES)}家{word}{rng.choice(SHOP_SUFFIXES)}"
    if pattern == 2:
        return f"{rng.choice(SHOP_CITIES)}{word}{rng.choice(FACTORY_SUFFIXES)}"
    if pattern == 3:
        return f"{rng.choice(SHOP_ADJECTIVES)}{word}{rng.choice(SHOP_SUFFIXES)}"
    return f"{rng.choice(LATIN_SHOP_WORDS)}{word}{rng.choice(SHOP_SUFFIXES)}"


def _experience_score(rng: random.Random) -> float:
    """Shop experience score 0-5: mostly 4.1-4.7, with a lower tail of struggling shops."""
    if rng.random() < 0.07:
        return round(rng.uniform(1.0, 4.0), 2)
    return round(5.0 * rng.betavariate(30.0, 4.0), 2)


def _experience_review_count(rng: random.Random, relative_size: float, is_new: bool) -> int:
    """Grows with the number of products the shop is expected to list, with a lognormal spread;
    new shops have few: mostly 0-20, tens of thousands for the biggest shops."""
    expected_products = relative_size * PRODUCTS_PER_SHOP
    mu = 0.2 + 0.9 * math.log(expected_products) - (2.0 if is_new else 0.0)
    return min(int(_lognormal(rng, mu, 1.3)), 5_000_000)


# Products


def _products(
    rng: random.Random,
    variants: random.Random,
    product_count: int,
    plans: list[_ShopPlan],
    size_weights: list[float],
    now_s: int,
) -> Iterator[tuple[pb.Product, ProductTruth]]:
    """Products p000001, p000002, ... each in a shop drawn by its size weight, with their truth."""
    cumulative = list(accumulate(size_weights))
    groups: dict[str, list[_WhiteLabelGroup]] = {}
    for index in range(product_count):
        shop = _weighted(rng, plans, cumulative)
        yield _product(rng, variants, f"p{index + 1:06d}", shop, groups, now_s)


def _product(
    rng: random.Random,
    variants: random.Random,
    product_id: str,
    shop: _ShopPlan,
    groups: dict[str, list[_WhiteLabelGroup]],
    now_s: int,
) -> tuple[pb.Product, ProductTruth]:
    """One product of `shop`; a white-label copy of another shop's listing now and then."""
    in_second_category = len(shop.categories) > 1 and rng.random() < 0.2
    category = shop.categories[1] if in_second_category else shop.categories[0]
    listing, copy_of = _listing(rng, variants, product_id, category, shop, groups)
    sales_30d = _sales_30d(rng, shop.sales_boost)
    rating_count = _rating_count(rng, sales_30d)
    earliest_s = max(shop.opened_at_s, now_s - 2 * YEAR_S)
    title, title_words = _title(rng, listing)
    words = listing.words
    truth = ProductTruth(
        product_id=product_id,
        shop_id=shop.shop_id,
        category_id=category.category_id,
        product_type=words.product_type,
        type_word=words.type_word,
        material=words.material,
        material_word=words.material_word,
        imitation=words.imitation,
        brand=listing.brand or None,
        copy_of=copy_of,
        title_words=title_words,
    )
    product = pb.Product(
        product_id=product_id,
        shop_id=shop.shop_id,
        title=title,
        brand=listing.brand,
        category_id=category.category_id,
        price_fen=listing.price_fen,
        sales_30d=sales_30d,
        stock=_stock(rng),
        image_count=_weighted(rng, IMAGE_COUNTS, IMAGE_COUNT_CUMULATIVE),
        rating_sum=_rating_sum(rng, rating_count),
        rating_count=rating_count,
        version=1,
        hero_image=pb.HeroImage(report=listing.report),
        listed_at=Timestamp(seconds=rng.randint(earliest_s, now_s)),
    )
    return product, truth


def _listing(
    rng: random.Random,
    variants: random.Random,
    product_id: str,
    category: Category,
    shop: _ShopPlan,
    groups: dict[str, list[_WhiteLabelGroup]],
) -> tuple[_Listing, str | None]:
    """The shop's own listing, or (sometimes, for non-brand shops) a white-label one: either the
    first of a new group, or a copy of another shop's listing with a similar price; and for a
    copy, the product_id of the listing it copies."""
    if shop.brand or rng.random() >= WHITE_LABEL_SHARE:
        brand = shop.brand or (rng.choice(category.brands) if rng.random() < RESELLER_BRAND_SHARE else "")
        words = _title_words(rng, variants, category, may_imitate=not brand)
        premium = (0.3 if brand else 0.0) + (IMITATION_PRICE_PREMIUM if words.imitation else 0.0)
        return _Listing(words, brand, _price_fen(rng, category, premium), _hero_report(rng)), None
    pool = groups.setdefault(category.category_id, [])
    if pool and rng.random() < 0.7:
        group = rng.choice(pool)
        if group.origin_shop_id != shop.shop_id:
            original = group.listing
            price_fen = _shelf_price_fen(rng, category, original.price_fen / 100 * rng.uniform(0.8, 1.1))
            copy = _Listing(original.words, "", price_fen, _copied_report(rng, original.report))
            return copy, group.origin_product_id
    words = _title_words(rng, variants, category, may_imitate=True)
    premium = -0.2 + (IMITATION_PRICE_PREMIUM if words.imitation else 0.0)
    listing = _Listing(words, "", _price_fen(rng, category, premium), _hero_report(rng))
    if len(pool) < WHITE_LABEL_GROUPS_PER_CATEGORY:
        pool.append(_WhiteLabelGroup(shop.shop_id, product_id, listing))
    else:
        pool[rng.randrange(WHITE_LABEL_GROUPS_PER_CATEGORY)] = _WhiteLabelGroup(shop.shop_id, product_id, listing)
    return listing, None


# Titles

_SYNONYMS: dict[str, tuple[str, ...]] = {group[0]: group[1:] for group in SYNONYM_GROUPS}
#: Materials the vocabularies list already imitated (仿羊绒 among the scarves'), by their imitation.
_IMITATED: dict[str, str] = {word: plain for plain, words in IMITATIONS.items() for word in words}


def _title_words(rng: random.Random, variants: random.Random, category: Category, may_imitate: bool) -> _TitleWords:
    """The head phrase (material + noun + audience) and the descriptive words around it.

    About one title in five is keyword-stuffed with many attributes and gets clipped to 60.
    `variants` (a stream of its own) turns some nouns into a synonym (手机套 for 手机壳) and,
    when `may_imitate`, some precious materials into an imitation of them (仿羊绒, 人造羊毛).
    """
    noun = rng.choice(category.nouns)
    type_word = noun
    if noun in _SYNONYMS and variants.random() < SYNONYM_SHARE:
        type_word = variants.choice(_SYNONYMS[noun])
    drawn = rng.choice(category.materials) if rng.random() < 0.7 else None
    material_word, material, imitation = drawn, drawn, False
    if drawn in _IMITATED:
        material, imitation = _IMITATED[drawn], True
    elif drawn in IMITATIONS and may_imitate and variants.random() < IMITATION_SHARE:
        material_word, imitation = variants.choice(IMITATIONS[drawn]), True
    head = (material_word or "") + type_word
    plain_head = (drawn or "") + noun
    if category.audiences and rng.random() < 0.6:
        audience = rng.choice(category.audiences)
        head, plain_head = head + audience, plain_head + audience
    stuffed = rng.random() < 0.2
    count = rng.randint(4, 7) if stuffed else rng.randint(1, 3)
    attributes = rng.sample(category.attributes, min(count, len(category.attributes)))
    if stuffed:
        attributes.extend(rng.sample(MARKETING_WORDS, 2))
    words = (head, *attributes) if rng.random() < 0.5 else (*attributes, head)
    return _TitleWords(head, words, plain_head, noun, type_word, material, material_word, imitation)


def _title(rng: random.Random, listing: _Listing) -> tuple[str, tuple[str, ...]]:
    """A full title: optional 【tag】, brand, the words, optional marketing word; 5-60 characters.
    Also its words as written (the last one may be cut short at 60 characters)."""
    tokens: list[str] = []
    if rng.random() < 0.15:
        tokens.append(rng.choice(MARKETING_TAGS))
    if listing.brand:
        latin = BRAND_LATIN_NAMES.get(listing.brand)
        tokens.append(listing.brand + latin if latin and rng.random() < 0.3 else listing.brand)
    tokens.extend(listing.words.words)
    if rng.random() < 0.3:
        tokens.append(rng.choice(MARKETING_WORDS))
    separator = " " if rng.random() < 0.75 else ""
    head = listing.words.head
    words = _fit_words(tokens, separator, TITLE_MAX_CHARS, keep=head)
    # Short titles are padded as if written with the category's own words (a synonym or an
    # imitation is never shorter), so that neither changes how many words the main stream draws.
    plain_chars = len(separator.join(words)) - len(head) + len(listing.words.plain_head)
    while plain_chars < TITLE_MIN_CHARS:
        word = rng.choice(MARKETING_WORDS)
        words = _fit_words([*words, word], separator, TITLE_MAX_CHARS, keep=head)
        plain_chars += len(separator) + len(word)
    title = separator.join(words)[:TITLE_MAX_CHARS]
    if rng.random() < 0.03:
        title = title.translate(FULLWIDTH)
        words = [word.translate(FULLWIDTH) for word in words]
    return title, tuple(words)


def _fit_words(words: Sequence[str], separator: str, max_chars: int, keep: str) -> list[str]:
    """The words, leaving out the last ones (but never `keep`) until they fit max_chars joined:
    titles are clipped on word boundaries and keep their head phrase."""
    kept = list(words)
    while len(separator.join(kept)) > max_chars and len(kept) > 1:
        last_droppable = max(index for index, word in enumerate(kept) if word != keep)
        del kept[last_droppable]
    return kept


# Numbers


def _price_fen(rng: random.Random, category: Category, premium: float) -> int:
    """A lognormal price around the category's median (times e**premium), inside its range."""
    _, median, _ = category.price_yuan
    return _shelf_price_fen(rng, category, _lognormal(rng, math.log(median) + premium, 0.7))


def _shelf_price_fen(rng: random.Random, category: Category, yuan: float) -> int:
    """A price as shelves show it, inside the category's range: 9.90, 39.90, 129.00, 199.00."""
    style = rng.random()
    if yuan < 20 or style < 0.3:
        fen = int(yuan) * 100 + 90
    elif style < 0.85:
        fen = (int(yuan / 10) * 10 + 9) * 100
    else:
        fen = round(yuan) * 100
    return _clamp_price(category, fen)


def _clamp_price(category: Category, fen: int) -> int:
    """The price moved into the category's range."""
    low, _, high = category.price_yuan
    return min(max(fen, round(low * 100)), round(high * 100))


def _sales_30d(rng: random.Random, boost: float) -> int:
    """Units sold in 30 days: 40 % zero, the rest lognormal with a heavy tail."""
    if rng.random() < 0.4:
        return 0
    return min(int(_lognormal(rng, 1.5 + boost, 1.9)), 5_000_000)


def _stock(rng: random.Random) -> int:
    """Units in stock: about 5 % sold out, the rest lognormal around 200."""
    if rng.random() < OUT_OF_STOCK_SHARE:
        return 0
    return max(1, min(int(_lognormal(rng, 5.3, 1.2)), 1_000_000))


def _rating_count(rng: random.Random, sales_30d: int) -> int:
    """Number of ratings: often zero, otherwise growing with sales, long-tailed."""
    if rng.random() < (0.7 if sales_30d == 0 else 0.2):
        return 0
    return 1 + min(int(_lognormal(rng, 0.5 + 0.8 * math.log1p(sales_30d), 1.2)), 10_000_000)


def _rating_sum(rng: random.Random, rating_count: int) -> int:
    """Sum of star ratings with an average of 3.5-5 (median about 4.8)."""
    average = 5.0 - 1.5 * rng.random() ** 3
    return min(max(round(average * rating_count), rating_count), 5 * rating_count)


# Hero images


def _hero_report(rng: random.Random) -> pb.HeroImageReport:
    """A plausible hero-image analysis: mostly square 800x800 JPEG shots on white."""
    width, height = _weighted(rng, IMAGE_SIZES, IMAGE_SIZE_CUMULATIVE)
    image_format = _weighted(rng, IMAGE_FORMATS, IMAGE_FORMAT_CUMULATIVE)
    sharpness = round(_lognormal(rng, 6.0, 0.8), 1)
    exposure = round(min(max(rng.gauss(0.55, 0.12), 0.02), 0.98), 3)
    on_white = rng.random() < 0.55
    border_whiteness = round(rng.uniform(0.8, 1.0) if on_white else rng.triangular(0.0, 0.8, 0.15), 3)
    return _report(width, height, image_format, sharpness, exposure, border_whiteness, rng.getrandbits(64))


def _copied_report(rng: random.Random, original: pb.HeroImageReport) -> pb.HeroImageReport:
    """The same picture re-uploaded by another shop: same dHash or 1-3 bits off, a little softer."""
    dhash = original.dhash
    if rng.random() < 0.5:
        for bit in rng.sample(range(64), rng.randint(1, 3)):
            dhash ^= 1 << bit
    sharpness = round(original.sharpness * rng.uniform(0.7, 1.0), 1)
    return _report(
        original.width,
        original.height,
        original.format,
        sharpness,
        original.exposure,
        original.border_whiteness,
        dhash,
    )


def _report(
    width: int,
    height: int,
    image_format: pb.ImageFormat,
    sharpness: float,
    exposure: float,
    border_whiteness: float,
    dhash: int,
) -> pb.HeroImageReport:
    """A HeroImageReport with squareness and quality derived from the other signals."""
    squareness = min(width, height) / max(width, height)
    return pb.HeroImageReport(
        width=width,
        height=height,
        format=image_format,
        squareness=squareness,
        sharpness=sharpness,
        exposure=exposure,
        border_whiteness=border_whiteness,
        dhash=dhash,
        quality=_image_quality(squareness, sharpness, exposure, border_whiteness),
    )


def _image_quality(squareness: float, sharpness: float, exposure: float, border_whiteness: float) -> float:
    """A stand-in quality score in [0, 1]: square, sharp, well exposed, white background."""
    sharp = min(1.0, math.log1p(sharpness) / math.log1p(1000.0))
    exposed = max(0.0, 1.0 - 2.0 * abs(exposure - 0.5))
    return round(0.35 * squareness + 0.3 * sharp + 0.2 * exposed + 0.15 * border_whiteness, 4)


# Helpers


def _lognormal(rng: random.Random, mu: float, sigma: float) -> float:
    """exp(N(mu, sigma)); `random.lognormvariate` but faster (gauss instead of normalvariate)."""
    return math.exp(rng.gauss(mu, sigma))


def _weighted(rng: random.Random, items: Sequence[T], cumulative_weights: Sequence[float]) -> T:
    """One of `items`, drawn by cumulative weights (`random.choices` for one item, but cheaper)."""
    index = bisect(cumulative_weights, rng.random() * cumulative_weights[-1])
    return items[min(index, len(items) - 1)]  # min: random() * total can round up to total
