"""The committed catalogue JSON against the seed documents, and the extraction that produces it.

The expected values below were read off the seed texts by hand; the seed line is cited where the
row is ragged (shifted columns, cells split across lines or pages, merged cells carried over).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from onecard_catalog.adapters.catalogue_data import extract, loader
from onecard_catalog.adapters.catalogue_data._model import ExtractionError, Row, apply_corrections
from onecard_catalog.adapters.catalogue_data._seeds import liangping_categories

ALL_ITEMS = loader.load_all_items()
BY_ID = {item["item_id"]: item for item in ALL_ITEMS}
SEEDS = extract.default_seeds_dir()
needs_seeds = pytest.mark.skipif(SEEDS is None, reason="the shared seeds directory is absent")

ALL_YEARS = {"2024": 3, "2025": 3, "2026": 3, "2027": 3}
SHIZHU_3 = {"2025": 3, "2026": 3, "2027": 3}
RISING = {"2024": 1, "2025": 2, "2026": 2, "2027": 3}
BOTH = ["physical", "electronic"]
FINANCE_COOP = ["市人力社保局", "市级有关部门", "区县政府"]
SHIZHU_FINANCE_COOP = ["县人力社保局", "县级有关部门", "各乡镇（街道）人民政府（办事处）"]


def _items(code: str) -> list[dict[str, Any]]:
    return loader.load_catalogue(code)


# ------------------------------------------------------------------------------------ counts


@pytest.mark.parametrize(
    ("code", "count"), [("500000", 47), ("500240", 38), ("500111", 43), ("500155", 160), ("500106", 3)]
)
def test_catalogue_sizes(code: str, count: int) -> None:
    assert len(_items(code)) == count


def test_municipal_and_district_sequences_are_complete() -> None:
    for code, count in [("500000", 47), ("500240", 38), ("500111", 43), ("500106", 3)]:
        assert [item["seq"] for item in _items(code)] == list(range(1, count + 1))


def test_liangping_has_95_hrss_and_65_other_items() -> None:
    seqs = [item["seq"] for item in _items("500155")]
    assert seqs == [f"A{n}" for n in range(1, 96)] + [f"B{n}" for n in range(1, 66)]


def test_item_ids_are_unique_and_well_formed() -> None:
    ids = [item["item_id"] for item in ALL_ITEMS]
    assert len(ids) == len(set(ids)) == 47 + 38 + 43 + 160 + 3
    for item in ALL_ITEMS:
        assert item["item_id"] == f"{item['jurisdiction']}:{item['seq']}"


def test_jurisdictions() -> None:
    jurisdictions = {j["code"]: (j["name"], j["kind"]) for j in loader.load_jurisdictions()}
    assert jurisdictions["500000"] == ("重庆市", "municipal")
    assert jurisdictions["500106"] == ("沙坪坝区", "district")
    assert jurisdictions["500111"] == ("大足区", "district")
    assert jurisdictions["500155"] == ("梁平区", "district")
    assert jurisdictions["500240"] == ("石柱土家族自治县", "county")
    assert jurisdictions["510000"] == ("四川省", "partner")
    assert {item["jurisdiction"] for item in ALL_ITEMS} <= set(jurisdictions)
    assert set(loader.CATALOGUE_CODES) == {catalogue.code for catalogue in extract.CATALOGUES}


def test_unknown_catalogue() -> None:
    with pytest.raises(KeyError):
        loader.load_catalogue("510000")


# -------------------------------------------------------------------------- field samples

SAMPLES: dict[str, dict[str, Any]] = {
    # ----- municipal 渝府办发〔2024〕73号 (001_…txt)
    # A plan cell merged across the four years: 三级 in the 2024 column only (line 73).
    "500000:1": {
        "kind": "service",
        "name": "就业创业服务",
        "department": "市人社局",
        "cooperating_departments": ["市级有关部门"],
        "categories": ["identity", "disbursement", "payment"],
        "plan": ALL_YEARS,
        "source": "渝府办发〔2024〕73号",
    },
    # 类别, 责任单位, 配合单位 and the plan merged with item 1 (line 77).
    "500000:2": {"kind": "service", "department": "市人社局", "plan": ALL_YEARS, "card_forms": BOTH},
    # 具体内容 split across a page break (lines 79 and 85).
    "500000:4": {
        "description": "劳动合同信息查询、劳动人事争议调解申请、调解信息查询、仲裁申请、仲裁信息查询、"
        "仲裁现场庭审等事项；劳动保障监察投诉、举报、劳动保障监察案件查询、农民工上工实名登记管理等服务；"
        "仲裁赔偿金领取、农民工工资等资金领取。",
        "plan": ALL_YEARS,
    },
    # The 序号 5 sits on item 4's overflow line; the row itself has none (lines 85-86).
    "500000:5": {
        "name": "社会保障卡数字工地",
        "kind": "service",
        "department": "市人力社保局",
        "cooperating_departments": ["市住房城乡建设委", "市水利局"],
        "categories": ["identity", "disbursement"],
        "plan": {"2024": 1, "2025": 1, "2026": 2, "2027": 3},
    },
    # Letter-spaced name; a text plan (line 98).
    "500000:11": {
        "name": "宾旅馆住宿",
        "department": "市公安局",
        "plan": {},
        "plan_note": "采取试点方式，逐步推进。",
    },
    # Plan text merged over items 13-15 (lines 100-105).
    "500000:15": {
        "name": "出入境证件办理进度查询",
        "department": "市公安局",
        "plan": {},
        "plan_note": "涉及国家垂管系统，积极争取国家相关部委支持，逐步推动。",
    },
    "500000:19": {
        "department": "市财政局",
        "cooperating_departments": FINANCE_COOP,
        "card_forms": ["physical"],
    },
    # 配合单位 of item 21 continues on item 22's line after the page break (lines 114, 118).
    "500000:21": {"cooperating_departments": FINANCE_COOP, "categories": ["disbursement"]},
    "500000:22": {
        "name": "城乡居民最低生活保障发放",
        "department": "市财政局",
        "cooperating_departments": FINANCE_COOP,
    },
    # Name in the 类别 column, split over a page break with 应用类别 (lines 128, 132).
    "500000:29": {
        "name": "公交、轨道刷卡乘车",
        "kind": "service",
        "department": "市交通运输委",
        "cooperating_departments": ["市人社局"],
        "card_forms": BOTH,
        "categories": ["identity", "payment"],
        "plan": RISING,
    },
    # Department in the 类别 column (line 133).
    "500000:30": {
        "name": "图书馆入馆、借阅",
        "kind": "service",
        "department": "市文化旅游委",
        "cooperating_departments": ["市人力社保局"],
        "card_forms": BOTH,
        "categories": ["identity"],
        "plan": {"2024": 2, "2025": 3, "2026": 3, "2027": 3},
    },
    "500000:32": {"name": "旅游景点", "department": "市文化旅游委", "plan": RISING},
    # Three surplus empty cells shift the row right (line 151).
    "500000:40": {
        "name": "就医购药",
        "department": "市医保局",
        "cooperating_departments": ["市人力社保局"],
        "categories": ["identity"],
        "plan": ALL_YEARS,
    },
    "500000:41": {
        "department": "市残联",
        "cooperating_departments": ["市人力社保局", "市级有关部门"],
        "plan": {"2025": 1, "2026": 1, "2027": 2},
        "plan_note": "2024年底：争取国家部委支持",
    },
    "500000:44": {"department": "人行重庆市分行", "card_forms": ["electronic"]},
    "500000:45": {
        "kind": "support",
        "name": "立法工作",
        "department": "市司法局",
        "categories": [],
        "plan": {},
    },
    "500000:47": {"kind": "support", "department": "市大数据发展局", "card_forms": [], "plan_note": None},
    # ----- Shizhu 石柱府办发〔2025〕11号 (000_…txt)
    "500240:1": {
        "department": "县人力社保局",
        "plan": SHIZHU_3,
        "responsible": {"leader": "马新国", "office": "综合科", "person": "冉文洁"},
        "source": "石柱府办发〔2025〕11号",
    },
    "500240:2": {
        "department": "县人力社保局",
        "kind": "service",
        "plan": SHIZHU_3,
        "responsible": {"leader": "谭祥红", "office": "社会化服务科", "person": "谭宁凤"},
    },
    # Blank responsible cells merged with item 4 (lines 134-137).
    "500240:5": {
        "department": "县人力社保局",
        "cooperating_departments": ["县住房城乡建委", "县水利局"],
        "categories": ["identity", "disbursement"],
        "plan": {"2025": 1, "2026": 2, "2027": 3},
        "responsible": {"leader": "张银华", "office": "指挥调度科", "person": "冉威"},
    },
    # The 2025 cell's text starts on its own line after a blank line (lines 185-189).
    "500240:8": {
        "department": "县公安局",
        "card_forms": ["electronic"],
        "plan": {"2025": 1, "2026": 2, "2027": 3},
    },
    "500240:11": {"plan": {}, "plan_note": "跟进市局出入境总队相关工作进度，严格贯彻落实。"},
    "500240:19": {
        "name": "特困人员救助供养、农村困难群众生活救助资金发放",
        "cooperating_departments": SHIZHU_FINANCE_COOP,
    },
    "500240:24": {
        "name": "公交刷卡乘车",
        "categories": ["identity", "payment"],
        "plan": {"2025": 2, "2026": 2, "2027": 3},
    },
    "500240:29": {
        "responsible": {
            "leader": "谭宁、王志刚、向大华",
            "office": "监督执法和行政许可科、医政科",
            "person": "王凤杰、汪海群",
        }
    },
    "500240:33": {"plan": {"2026": 1, "2027": 2}, "plan_note": "2025年底：争取国家部委支持"},
    "500240:37": {
        "kind": "support",
        "department": "县人力社保局",
        "cooperating_departments": ["县财政局"],
        "plan": {},
    },
    "500240:38": {"kind": "support", "department": "县发展改革委", "categories": []},
    # ----- Dazu 大足府办发〔2024〕110号 (003_…txt)
    "500111:1": {
        "department": "区人力社保局",
        "cooperating_departments": ["区级有关部门", "各镇街人民政府（办事处）"],
        "plan": ALL_YEARS,
        "source": "大足府办发〔2024〕110号",
    },
    "500111:3": {"department": "区人力社保局", "kind": "service", "plan": ALL_YEARS},
    # Cells split mid-word across lines: 区人力 / 社保局, 教育 / 收费, 区公 / 安局 (lines 230-254, 284-289).
    "500111:8": {"name": "教育收费", "department": "区教委", "cooperating_departments": ["区人力社保局"]},
    "500111:10": {
        "department": "区公安局",
        "cooperating_departments": ["区人力社保局"],
        "card_forms": ["electronic"],
    },
    "500111:17": {
        "department": "区财政局",
        "cooperating_departments": ["区人力社保局", "区住房城乡建委", "区交通运输委", "区水利局"],
    },
    "500111:28": {
        "name": "大足石刻博物馆",
        "department": "大足石刻研究院",
        "plan": {"2024": 2, "2025": 3, "2026": 3, "2027": 3},
    },
    "500111:29": {"name": "大足石刻景区", "department": "大足石刻研究院", "plan": RISING},
    # The seed gives 身份识别 for this disbursement item; kept as written (line 630).
    "500111:32": {"name": "卫生健康相关补贴", "categories": ["identity"], "card_forms": ["physical"]},
    "500111:38": {"plan": {"2025": 1, "2026": 1, "2027": 2}, "plan_note": "2024年底：争取国家部委支持"},
    "500111:40": {
        "department": "区城市管理局",
        "lead_departments": ["区城市管理局", "经开区建设局"],
        "cooperating_departments": ["经开区建设局", "区人力社保局", "重庆市渝大水务有限公司"],
        "categories": ["payment"],
    },
    "500111:41": {"kind": "support", "name": "法治保障", "department": "区司法局", "card_forms": []},
    # ----- Liangping 2020 catalogue (004_…txt)
    "500155:A1": {
        "name": "就业登记",
        "business_domain": "就业创业",
        "function_classes": ["身份凭证"],
        "categories": ["identity"],
        "card_forms": BOTH,
        "completion": {"physical": "2021年12月", "electronic": "2021年12月"},
        "department": "区人力社保局",
    },
    "500155:A2": {"business_domain": "就业创业", "name": "失业登记"},
    "500155:A11": {"card_forms": ["physical"], "completion": {"physical": "2021年12月", "electronic": "—"}},
    "500155:A13": {"function_classes": ["缴费和待遇领取"], "categories": ["disbursement"]},
    "500155:A46": {"business_domain": "工伤保险待遇", "name": "工伤就医服务"},
    "500155:A51": {"function_classes": ["就医结算"], "categories": ["payment"]},
    "500155:A67": {"completion": {"physical": "2021年12月 阶段性政策", "electronic": "—"}},
    "500155:A68": {"card_forms": ["electronic"], "completion": {"physical": "—", "electronic": "2021年12月"}},
    "500155:A69": {"name": "人事考试缴费", "categories": ["payment"]},
    "500155:A92": {"business_domain": "劳动关系", "categories": ["disbursement"]},
    "500155:A95": {"business_domain": "其他", "name": "业务经办系统登录"},
    "500155:B1": {
        "card_forms": ["electronic"],
        "municipal_departments": ["政务服务部门"],
        "department": "区政务服务办",
        "completion": None,
    },
    "500155:B4": {
        "department": "区委组织部",
        "cooperating_departments": ["区科技局等相关部门"],
        "municipal_departments": ["组织、科技等相关部门"],
    },
    "500155:B26": {"name": "公交地铁刷卡（码）乘车", "categories": ["payment"]},
    "500155:B29": {
        "municipal_departments": ["交通部门", "公安部门"],
        "district_departments": ["区交通局", "区公安局"],
    },
    # 退役军人 / 事务部门 is one name split across lines (lines 1477-1478).
    "500155:B38": {"municipal_departments": ["退役军人事务部门"], "department": "区退役军人事务局"},
    # No department at all in the seed (lines 1534-1545).
    "500155:B44": {"name": "水电气缴费", "department": None, "categories": ["payment"]},
    "500155:B45": {"name": "社区门禁", "department": None, "categories": ["identity"]},
    "500155:B47": {
        "municipal_departments": ["卫生健康部门", "医保部门", "医疗机构"],
        "district_departments": ["区卫生健康委", "区医保局", "区内各医疗机构"],
    },
    "500155:B52": {"function_classes": ["信息记录"], "categories": ["identity"], "card_forms": ["physical"]},
    "500155:B65": {"name": "生育津贴领取", "categories": ["disbursement"], "department": "区医保局"},
    # ----- Shapingba 沙府办发〔2022〕107号 (002_…txt)
    "500106:1": {
        "name": "推动政务服务领域用卡",
        "department": "区政务服务办",
        "lead_departments": ["区政务服务办", "区人力社保局"],
        "categories": ["identity"],
        "card_forms": BOTH,
        "deadline": "2022年12月",
    },
    "500106:2": {
        "name": "落实惠民惠农补贴资金发放用卡",
        "department": "区财政局",
        "categories": ["disbursement"],
        "card_forms": ["physical"],
    },
    "500106:3": {
        "name": "推动农民工工资进卡",
        "lead_departments": ["区住房城乡建委", "区交通局", "区农业农村委"],
        "cooperating_departments": ["区交通局", "区农业农村委", "区人力社保局"],
        "categories": ["disbursement"],
        "main_task": "建筑、交通、水利等领域的施工单位将农民工工资发放到社保卡金融账户",
    },
}


@pytest.mark.parametrize("item_id", sorted(SAMPLES))
def test_sampled_fields_match_the_seed(item_id: str) -> None:
    item = BY_ID[item_id]
    for field, expected in SAMPLES[item_id].items():
        assert item[field] == expected, f"{item_id} {field}"


def test_samples_cover_every_catalogue_broadly() -> None:
    per_code = {code: sum(item_id.startswith(code) for item_id in SAMPLES) for code in loader.CATALOGUE_CODES}
    assert per_code["500106"] == 3
    assert all(count >= 8 for code, count in per_code.items() if code != "500106")


# ------------------------------------------------------------------------------ invariants


@pytest.mark.parametrize("item", ALL_ITEMS, ids=lambda item: item["item_id"])
def test_item_invariants(item: dict[str, Any]) -> None:
    assert item["kind"] in ("service", "support")
    assert set(item["card_forms"]) <= {"physical", "electronic"}
    assert set(item["categories"]) <= {"identity", "disbursement", "payment"}
    assert all(1 <= level <= 3 for level in item["plan"].values())
    assert all(re.fullmatch(r"20\d\d", year) for year in item["plan"])
    assert item["name"] and item["description"] and item["source"]
    if item["kind"] == "service":
        assert item["categories"], "a service item has a category"
        assert item["card_forms"], "a service item has a card form"
        assert item["plan"] or item["plan_note"], "a service item has a plan"
    else:
        assert item["categories"] == [] and item["plan"] == {} and item["plan_note"] is None


def test_support_items() -> None:
    support = sorted(item["item_id"] for item in ALL_ITEMS if item["kind"] == "support")
    assert support == sorted(
        [
            "500000:45",
            "500000:46",
            "500000:47",
            "500111:41",
            "500111:42",
            "500111:43",
            "500240:37",
            "500240:38",
        ]
    )


def test_liangping_function_classes_and_completion() -> None:
    classes = {"身份凭证", "信息记录", "自助查询", "就医结算", "缴费和待遇领取", "金融支付"}
    for item in _items("500155"):
        assert len(item["function_classes"]) == 1 and set(item["function_classes"]) <= classes
        if item["seq"].startswith("A"):
            assert item["department"] == "区人力社保局" and item["business_domain"]
            assert set(item["completion"]) == {"physical", "electronic"}
        else:
            assert item["completion"] is None and "municipal_departments" in item
    for item in ALL_ITEMS:
        if item["jurisdiction"] != "500155":
            assert item["function_classes"] == [] and item["completion"] is None


def test_only_shizhu_has_responsible_people() -> None:
    assert all(("responsible" in item) == (item["jurisdiction"] == "500240") for item in ALL_ITEMS)


# ------------------------------------------------------------------------ derivation rule


@pytest.mark.parametrize(
    ("function_class", "name", "description", "expected"),
    [
        ("身份凭证", "就业登记", "…", ["identity"]),
        ("信息记录", "脱网结算信息记录", "…", ["identity"]),
        ("自助查询", "信息查询", "…", ["identity"]),
        ("就医结算", "就医即时结算", "…", ["payment"]),
        ("金融支付", "金融支付", "…", ["payment"]),
        ("缴费和待遇领取", "失业保险金领取", "发放到社会保障卡银行账户中", ["disbursement"]),
        ("缴费和待遇领取", "党费缴费", "通过社会保障卡银行账户交纳党费", ["payment"]),
        ("缴费和待遇领取", "乘车", "刷卡（码）扣费乘车", ["payment"]),
    ],
)
def test_liangping_category_rule(
    function_class: str, name: str, description: str, expected: list[str]
) -> None:
    assert liangping_categories(function_class, name, description) == expected


def test_liangping_category_rule_refuses_the_unknown() -> None:
    with pytest.raises(ExtractionError):
        liangping_categories("缴费和待遇领取", "某项目", "持卡办理")
    with pytest.raises(ExtractionError):
        liangping_categories("其他", "某项目", "持卡办理")


# ------------------------------------------------------------------------------ corrections


def test_corrections_are_explained() -> None:
    corrections = extract.load_corrections()
    assert corrections
    for entry in corrections:
        assert entry["item_id"] in BY_ID
        assert re.search(r"\d{3}_[0-9a-f]{16}\.txt lines? \d+", entry["reason"]), entry


def _row(**changes: Any) -> Row:
    fields: dict[str, Any] = {
        "jurisdiction": "500000",
        "seq": 1,
        "line": 1,
        "kind": "service",
        "lead_departments": ["市人社局"],
        "cooperating_departments": None,
        "name": "n",
        "description": "d",
        "card_forms": ["physical"],
        "categories": ["identity"],
        "plan": None,
    }
    return Row(**(fields | changes))


def test_a_correction_that_changes_nothing_is_refused() -> None:
    entry = {"item_id": "500000:1", "field": "department", "value": "市人社局", "reason": "x"}
    with pytest.raises(ExtractionError, match="changes nothing"):
        apply_corrections([_row()], [entry])


def test_a_correction_of_an_unknown_field_is_refused() -> None:
    entry = {"item_id": "500000:1", "field": "colour", "value": "red", "reason": "x"}
    with pytest.raises(ExtractionError):
        apply_corrections([_row()], [entry])


@needs_seeds
def test_the_corrections_are_needed() -> None:
    assert SEEDS is not None
    with pytest.raises(ExtractionError, match="500000:29"):
        extract.render(SEEDS, corrections=[])


# --------------------------------------------------------------------------- reproducibility


EXTRACT = "onecard_catalog.adapters.catalogue_data.extract"


@needs_seeds
def test_fresh_extraction_reproduces_the_committed_files() -> None:
    result = subprocess.run(
        [sys.executable, "-m", EXTRACT, "--check", "--seeds", str(SEEDS)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


@needs_seeds
def test_check_reports_a_stale_file(tmp_path: Path) -> None:
    assert SEEDS is not None
    files = extract.render(SEEDS)
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    assert extract.check(files, tmp_path) == []
    stale = json.loads(files["500000.json"])
    stale[29]["department"] = "市人力社保局"
    (tmp_path / "500000.json").write_text(json.dumps(stale, ensure_ascii=False), encoding="utf-8")
    assert extract.check(files, tmp_path) == ["500000.json"]
