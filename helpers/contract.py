"""The data contract: every table the workbook reads, its columns, types, keys and rules.

This module is the single source of truth for the contract; ``docs/data_contract.md`` documents it
for people and a test checks that the page names every table and column defined here.

Column kinds
------------
``id``
    Text identifier, kept as a string (leading zeros survive, ``1.23E+17`` is rejected). Ids that are personal
    data (phone numbers in any spelling, WeChat ids, e-mails, names in person columns, every staff id) are replaced
    by keyed pseudonyms (:mod:`helpers.privacy`).
``timestamp``
    Local time (Asia/Shanghai by default), naive ``datetime64``. Accepts ISO strings, ``2024/1/5 13:00``,
    ``2024年1月5日``, Excel serial numbers, Unix seconds or milliseconds, tz-aware strings (converted); see
    :func:`helpers.parsing.parse_timestamp`.
``date``
    A ``timestamp`` truncated to the day.
``money``
    CNY as ``float64``. Accepts ``¥1,299.00``, ``1299元``, full-width digits, ``1.2万``, ``1.299,00``.
``enum``
    One of a fixed set of values; Chinese spellings are mapped (``已退款`` -> ``refunded``).
``text``
    Free text label (channel names, campaign names, variants), whitespace-trimmed, personal data masked, cut to
    :data:`helpers.parsing.TEXT_MAX_CHARS` characters.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from helpers import privacy

__all__ = [
    "DERIVED_TABLES",
    "DataContractError",
    "ADD_WAY",
    "ADD_WAY_NAMES",
    "ENUM_ALIASES",
    "PII_COLUMNS",
    "TABLES",
    "Column",
    "TableSpec",
    "contract_markdown",
    "normalize_column_name",
]


class DataContractError(ValueError):
    """The input breaks the data contract in a way no row-level quarantine can fix.

    The message is one line that names the file, the column and the rule, and never quotes a cell value.
    """

    def __init__(self, message: str) -> None:
        super().__init__(_one_line(message))


def _one_line(message: str) -> str:
    """One line, personal data masked, bounded: safe for a traceback in a notebook or a cron mail."""
    text = re.sub(r"\s+", " ", str(privacy.mask_value(str(message)))).strip()
    return text if len(text) <= 600 else text[:599] + "…"


@dataclass(frozen=True)
class Column:
    """One column of a contract table.

    Parameters
    ----------
    name : str
        Canonical (English, snake_case) column name.
    kind : str
        One of ``id``, ``timestamp``, ``date``, ``money``, ``enum``, ``text``.
    required : bool
        The column must be present in the file. Optional columns are added empty when absent.
    nullable : bool
        Empty cells are allowed. A non-nullable empty cell sends the row to quarantine.
    enum : tuple of str, optional
        Allowed values for ``kind="enum"``.
    aliases : tuple of str
        Other header spellings accepted (WeCom export fields, Chinese headers), compared after
        :func:`normalize_column_name`.
    description : str
        One line for the contract page.
    """

    name: str
    kind: str
    required: bool = True
    nullable: bool = False
    enum: tuple[str, ...] | None = None
    aliases: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class TableSpec:
    """One contract table.

    Parameters
    ----------
    name : str
        Table name; the file is ``<name>.csv`` / ``.xlsx`` / ``.parquet``.
    required : bool
        A dataset without this table is rejected.
    columns : tuple of Column
        Columns in canonical order.
    key : tuple of str, optional
        Columns that identify a row; later duplicates of a key are quarantined.
    references : dict
        ``column -> "table.column"``; a value missing from the referenced table is an orphan.
    exact_duplicates : bool
        Quarantine rows identical in every column to an earlier row.
    description : str
        One line for the contract page.
    """

    name: str
    required: bool
    columns: tuple[Column, ...]
    key: tuple[str, ...] | None = None
    references: dict[str, str] = field(default_factory=dict)
    exact_duplicates: bool = True
    description: str = ""

    @property
    def column_names(self) -> list[str]:
        """Canonical column names in order."""
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        """Return the column called ``name``."""
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")

    def alias_map(self) -> dict[str, str]:
        """Map every accepted (normalised) header spelling to its canonical column name."""
        out: dict[str, str] = {}
        for c in self.columns:
            for a in (c.name, *c.aliases):
                out[normalize_column_name(a)] = c.name
        return out


def normalize_column_name(name: object) -> str:
    r"""Normalise a header cell: NFKC (full-width to half-width), trim, lower case, ``_`` separators.

    Parameters
    ----------
    name : object
        Raw header cell.

    Returns
    -------
    str
        The normalised name.

    Examples
    --------
    >>> normalize_column_name("\ufeff User ID ")
    'user_id'
    >>> normalize_column_name("订单金额（元）")
    '订单金额(元)'
    """
    s = unicodedata.normalize("NFKC", str(name)).replace("\ufeff", "").strip().lower()
    s = re.sub(r"[\s\-./]+", "_", s)
    return s.strip("_")


USER_ID_ALIASES = (
    "external_userid",
    "customer_id",
    "客户id",
    "用户id",
    "外部联系人id",
    "客户编号",
    "会员id",
    "member_id",
    "uid",
)
CAMPAIGN_ID_ALIASES = ("活动id", "活动编号", "campaign", "activity_id")
CHANNEL_ALIASES = ("渠道", "来源", "来源渠道", "source", "添加渠道")
VARIANT_ALIASES = ("话术", "话术版本", "script", "invite_variant", "版本", "ab_group")

#: WeCom ``add_way`` codes (企业微信 客户添加方式) used as the channel when no channel column exists.
ADD_WAY: dict[int, str] = {
    0: "unknown",
    1: "scan_qr",
    2: "search_phone",
    3: "card_share",
    4: "group_chat",
    5: "phone_contacts",
    6: "wechat_contact",
    8: "third_party_app",
    9: "search_email",
    10: "channels_video",
    11: "schedule",
    12: "meeting",
    13: "wechat_friend",
    14: "smart_hardware",
    201: "internal_share",
    202: "admin_assign",
}

#: WeCom ``add_way`` written as text (the Chinese labels of the admin console) instead of a code.
ADD_WAY_NAMES: dict[str, str] = {
    "未知来源": "unknown",
    "扫描二维码": "scan_qr",
    "扫码": "scan_qr",
    "扫描名片": "scan_qr",
    "搜索手机号": "search_phone",
    "名片分享": "card_share",
    "分享名片": "card_share",
    "群聊": "group_chat",
    "手机通讯录": "phone_contacts",
    "微信联系人": "wechat_contact",
    "第三方应用": "third_party_app",
    "搜索邮箱": "search_email",
    "视频号": "channels_video",
    "日程": "schedule",
    "会议": "meeting",
    "添加微信好友": "wechat_friend",
    "微信好友": "wechat_friend",
    "智能硬件": "smart_hardware",
    "内部成员共享": "internal_share",
    "管理员分配": "admin_assign",
    "负责人分配": "admin_assign",
}

#: Accepted spellings of enum values, mapped to the canonical value.
ENUM_ALIASES: dict[str, dict[str, str]] = {
    "status": {
        "paid": "paid",
        "已支付": "paid",
        "已付款": "paid",
        "支付成功": "paid",
        "交易成功": "paid",
        "已完成": "paid",
        "已发货": "paid",
        "success": "paid",
        "completed": "paid",
        "refunded": "refunded",
        "refund": "refunded",
        "已退款": "refunded",
        "退款": "refunded",
        "退款成功": "refunded",
    },
    "touch_type": {
        "moments": "moments",
        "朋友圈": "moments",
        "group_broadcast": "group_broadcast",
        "群发": "group_broadcast",
        "社群群发": "group_broadcast",
        "群消息": "group_broadcast",
        "private_chat": "private_chat",
        "私聊": "private_chat",
        "1v1": "private_chat",
        "一对一": "private_chat",
        "livestream": "livestream",
        "直播": "livestream",
        "coupon": "coupon",
        "优惠券": "coupon",
        "发券": "coupon",
        "official_account": "official_account",
        "公众号": "official_account",
        "sms": "sms",
        "短信": "sms",
    },
    "action": {
        "send": "send",
        "发送": "send",
        "recall": "recall",
        "撤回": "recall",
        "switch": "switch",
    },
    "sender_role": {
        "customer": "customer",
        "客户": "customer",
        "external": "customer",
        "外部联系人": "customer",
        "staff": "staff",
        "员工": "staff",
        "internal": "staff",
        "成员": "staff",
    },
    "send_status": {  # WeCom get_groupmsg_send_result
        "0": "not_sent",
        "未发送": "not_sent",
        "not_sent": "not_sent",
        "1": "sent",
        "已发送": "sent",
        "sent": "sent",
        "2": "failed_not_friend",
        "因客户不是好友导致发送失败": "failed_not_friend",
        "failed_not_friend": "failed_not_friend",
        "3": "failed_limit",
        "因客户已经收到其他群发消息导致发送失败": "failed_limit",
        "failed_limit": "failed_limit",
    },
    "join_scene": {  # WeCom groupchat member join_scene
        "1": "invited",
        "由群成员邀请入群（直接邀请入群）": "invited",
        "直接邀请入群": "invited",
        "invited": "invited",
        "2": "link",
        "由群成员邀请入群（通过邀请链接入群）": "link",
        "通过邀请链接入群": "link",
        "link": "link",
        "3": "qr",
        "通过扫描群二维码入群": "qr",
        "扫码入群": "qr",
        "qr": "qr",
    },
    "active": {
        "yes": "yes",
        "是": "yes",
        "在职": "yes",
        "1": "yes",
        "true": "yes",
        "no": "no",
        "否": "no",
        "离职": "no",
        "0": "no",
        "false": "no",
    },
    "arm": {
        "treatment": "treatment",
        "实验组": "treatment",
        "处理组": "treatment",
        "test": "treatment",
        "control": "control",
        "对照组": "control",
        "holdout": "control",
        "控制组": "control",
    },
}

#: Header names treated as personal data: dropped at load unless the table's contract uses the name.
PII_COLUMNS: frozenset[str] = frozenset(
    normalize_column_name(c)
    for c in (
        "phone",
        "mobile",
        "tel",
        "telephone",
        "phone_number",
        "手机",
        "手机号",
        "手机号码",
        "电话",
        "联系电话",
        "wechat_id",
        "wechat",
        "wxid",
        "weixin",
        "微信号",
        "微信",
        "name",
        "nickname",
        "real_name",
        "姓名",
        "昵称",
        "客户名称",
        "备注名",
        "remark",
        "remark_mobiles",
        "unionid",
        "openid",
        "email",
        "邮箱",
        "address",
        "地址",
        "收货地址",
        "id_card",
        "身份证",
        "avatar",
        "头像",
    )
)

_ENUM = ENUM_ALIASES

#: Tables the loader derives from an input table (name → the table they come from).
DERIVED_TABLES: dict[str, str] = {"relationships": "contacts"}

TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in (
        TableSpec(
            name="contacts",
            required=True,
            description="One row per private-domain contact (a customer added as a WeChat / WeCom friend); a WeCom "
            "export lists a customer once per staff member who added them: each row is a relationship, and the clean "
            "`contacts` holds one row per person (the first relationship), `relationships` every row.",
            key=("user_id", "staff_id"),
            columns=(
                Column(
                    "user_id",
                    "id",
                    aliases=USER_ID_ALIASES,
                    description="Contact id (WeCom external_userid); phone numbers, WeChat ids, e-mails and names "
                    "are pseudonymised.",
                ),
                Column(
                    "added_at",
                    "timestamp",
                    aliases=("createtime", "add_time", "添加时间", "添加好友时间", "created_at", "加好友时间"),
                    description="When the contact was added.",
                ),
                Column(
                    "channel",
                    "text",
                    aliases=CHANNEL_ALIASES,
                    description="Acquisition channel (store_qr, parcel_card, livestream, referral, …); cut to 100 "
                    "characters.",
                ),
                Column(
                    "campaign_id",
                    "id",
                    required=False,
                    nullable=True,
                    aliases=("state", "渠道码", *CAMPAIGN_ID_ALIASES),
                    description="Acquisition campaign; WeCom's channel-QR `state`.",
                ),
                Column(
                    "variant",
                    "text",
                    required=False,
                    nullable=True,
                    aliases=VARIANT_ALIASES,
                    description="Invitation script / content variant (话术).",
                ),
                Column(
                    "referrer_id",
                    "id",
                    required=False,
                    nullable=True,
                    aliases=("推荐人", "推荐人id", "inviter_id", "邀请人id", "邀请人"),
                    description="user_id of the inviting contact, for referrals (裂变); pseudonymised like user_id.",
                ),
                Column(
                    "staff_id",
                    "id",
                    required=False,
                    nullable=True,
                    aliases=("userid", "员工id", "添加人", "跟进人", "owner", "staff"),
                    description="Staff member (WeCom userid) who owns the contact; always pseudonymised.",
                ),
                Column(
                    "removed_at",
                    "timestamp",
                    required=False,
                    nullable=True,
                    aliases=("del_time", "deleted_at", "删除时间", "流失时间", "被删除时间"),
                    description="When the contact deleted or blocked us; empty while still a friend (so is a "
                    "placeholder such as 9999-12-31, 1970-01-01 or 0).",
                ),
            ),
        ),
        TableSpec(
            name="orders",
            required=True,
            description="One row per order.",
            key=("order_id",),
            references={"user_id": "contacts.user_id"},
            columns=(
                Column("order_id", "id", aliases=("订单号", "订单编号", "订单id", "order_no"), description="Order id."),
                Column("user_id", "id", aliases=USER_ID_ALIASES, description="Buying contact."),
                Column(
                    "ordered_at",
                    "timestamp",
                    aliases=("下单时间", "支付时间", "order_time", "pay_time", "付款时间"),
                    description="Order (payment) time.",
                ),
                Column(
                    "amount",
                    "money",
                    aliases=("金额", "实付金额", "订单金额", "支付金额", "pay_amount", "gmv", "实付款"),
                    description="Order amount in CNY, ≥ 0.",
                ),
                Column(
                    "status",
                    "enum",
                    required=False,
                    enum=("paid", "refunded"),
                    aliases=("状态", "订单状态", "order_status"),
                    description="paid or refunded; an absent column or an empty cell means paid.",
                ),
                Column(
                    "campaign_id",
                    "id",
                    required=False,
                    nullable=True,
                    aliases=CAMPAIGN_ID_ALIASES,
                    description="Campaign credited by the shop system, if any.",
                ),
            ),
        ),
        TableSpec(
            name="touches",
            required=False,
            description="One row per marketing touch received by a contact.",
            references={"user_id": "contacts.user_id"},
            columns=(
                Column("user_id", "id", aliases=USER_ID_ALIASES, description="Touched contact."),
                Column(
                    "touched_at",
                    "timestamp",
                    aliases=("触达时间", "发送时间", "time", "send_time"),
                    description="When the touch reached the contact.",
                ),
                Column(
                    "touch_type",
                    "enum",
                    enum=tuple(sorted(set(_ENUM["touch_type"].values()))),
                    aliases=("触达方式", "触达类型", "type", "touch"),
                    description="moments, group_broadcast, private_chat, livestream, coupon, official_account, sms.",
                ),
                Column(
                    "campaign_id",
                    "id",
                    required=False,
                    nullable=True,
                    aliases=CAMPAIGN_ID_ALIASES,
                    description="Campaign the touch belongs to.",
                ),
            ),
        ),
        TableSpec(
            name="campaigns",
            required=False,
            description="One row per campaign (acquisition QR codes, livestreams, coupons, fission …).",
            key=("campaign_id",),
            columns=(
                Column("campaign_id", "id", aliases=CAMPAIGN_ID_ALIASES, description="Campaign id."),
                Column(
                    "name",
                    "text",
                    required=False,
                    nullable=True,
                    aliases=("活动名称", "campaign_name", "名称"),
                    description="Campaign name, often Chinese.",
                ),
                Column(
                    "kind",
                    "text",
                    required=False,
                    nullable=True,
                    aliases=("类型", "活动类型", "type"),
                    description="acquisition, livestream, coupon, fission, content, …",
                ),
                Column(
                    "start",
                    "date",
                    aliases=("开始时间", "开始日期", "start_date", "start_at"),
                    description="First day.",
                ),
                Column(
                    "end",
                    "date",
                    aliases=("结束时间", "结束日期", "end_date", "end_at"),
                    description="Last day (inclusive).",
                ),
                Column(
                    "cost",
                    "money",
                    required=False,
                    nullable=True,
                    aliases=("费用", "成本", "花费", "预算"),
                    description="Total cost in CNY.",
                ),
            ),
        ),
        TableSpec(
            name="assignments",
            required=False,
            description="Randomised holdout assignments: who was eligible for a campaign and in which arm.",
            key=("campaign_id", "user_id"),
            references={"user_id": "contacts.user_id"},
            columns=(
                Column("campaign_id", "id", aliases=CAMPAIGN_ID_ALIASES, description="Campaign with a holdout."),
                Column("user_id", "id", aliases=USER_ID_ALIASES, description="Eligible contact."),
                Column(
                    "arm",
                    "enum",
                    enum=("control", "treatment"),
                    aliases=("分组", "组别", "group"),
                    description="treatment or control (holdout).",
                ),
            ),
        ),
        TableSpec(
            name="leads",
            required=False,
            description="Invitations / QR scans before a contact is added; user_id filled once added.",
            key=("lead_id",),
            references={"user_id": "contacts.user_id"},
            columns=(
                Column("lead_id", "id", aliases=("线索id", "scan_id", "invite_id"), description="Lead id."),
                Column(
                    "created_at",
                    "timestamp",
                    aliases=("扫码时间", "邀请时间", "时间", "scan_time"),
                    description="Scan / invitation time.",
                ),
                Column("channel", "text", aliases=CHANNEL_ALIASES, description="Channel of the lead."),
                Column(
                    "campaign_id",
                    "id",
                    required=False,
                    nullable=True,
                    aliases=("state", *CAMPAIGN_ID_ALIASES),
                    description="Campaign / QR state.",
                ),
                Column(
                    "variant",
                    "text",
                    required=False,
                    nullable=True,
                    aliases=VARIANT_ALIASES,
                    description="Invitation script shown.",
                ),
                Column(
                    "user_id",
                    "id",
                    required=False,
                    nullable=True,
                    aliases=USER_ID_ALIASES,
                    description="The contact once added; empty if not (yet) added.",
                ),
            ),
        ),
        TableSpec(
            name="messages",
            required=False,
            description="Chat messages (社群 group chats and 1:1 chats; WeCom's session archive 会话存档): one row per "
            "message. Text is optional; phone numbers, WeChat ids, e-mails and ID / bank-card numbers in it are masked "
            "at load.",
            exact_duplicates=False,
            columns=(
                Column(
                    "group_id",
                    "id",
                    nullable=True,
                    aliases=("群id", "chat_id", "roomid", "群聊id"),
                    description="Group chat; empty for a 1:1 chat (WeCom roomid is empty there).",
                ),
                Column(
                    "user_id",
                    "id",
                    nullable=True,
                    aliases=("sender", "发送人", "from", *USER_ID_ALIASES),
                    description="The customer: the sender of a customer message, the other party of a staff "
                    "message in a 1:1 chat (may be empty for a staff post in a group); need not be a contact.",
                ),
                Column(
                    "sent_at",
                    "timestamp",
                    aliases=("发送时间", "msgtime", "时间", "send_time"),
                    description="Message time.",
                ),
                Column(
                    "sender_role",
                    "enum",
                    required=False,
                    nullable=True,
                    enum=("customer", "staff"),
                    aliases=("发送方", "发送人类型", "sender_type", "from_type"),
                    description="customer or staff (empty: customer).",
                ),
                Column(
                    "staff_id",
                    "id",
                    required=False,
                    nullable=True,
                    aliases=("员工id", "userid", "成员id", "staff"),
                    description="The staff member of a 1:1 chat, or the staff sender in a group; always pseudonymised.",
                ),
                Column(
                    "msgtype",
                    "text",
                    required=False,
                    nullable=True,
                    aliases=("消息类型", "msg_type", "type"),
                    description="WeCom msgtype: text, image, voice, link, emotion, redpacket, …",
                ),
                Column(
                    "content",
                    "text",
                    required=False,
                    nullable=True,
                    aliases=("消息内容", "内容", "text", "msg_content"),
                    description="Message text; personal data in it is masked at load.",
                ),
                Column(
                    "action",
                    "enum",
                    required=False,
                    nullable=True,
                    enum=("send", "recall", "switch"),
                    aliases=("消息动作",),
                    description="send (empty: send), recall (撤回: the text is not analysed) or switch.",
                ),
            ),
        ),
        TableSpec(
            name="staff",
            required=False,
            description="Staff members (导购 / 顾问 / WeCom members). Names never reach an output: a name column is "
            "dropped at load, and display aliases come from the names file (kind staff).",
            key=("staff_id",),
            columns=(
                Column(
                    "staff_id",
                    "id",
                    aliases=("userid", "员工id", "成员id", "staff"),
                    description="WeCom userid; always pseudonymised.",
                ),
                Column(
                    "team",
                    "text",
                    required=False,
                    nullable=True,
                    aliases=("团队", "部门", "department"),
                    description="Team or department.",
                ),
                Column(
                    "store",
                    "text",
                    required=False,
                    nullable=True,
                    aliases=("门店", "store_name", "店铺"),
                    description="Store.",
                ),
                Column(
                    "active",
                    "enum",
                    required=False,
                    nullable=True,
                    enum=("yes", "no"),
                    aliases=("在职", "状态", "is_active"),
                    description="Still working (yes / no).",
                ),
            ),
        ),
        TableSpec(
            name="broadcasts",
            required=False,
            description="Group broadcasts (群发) and their per-customer send result (WeCom get_groupmsg_send_result).",
            key=("task_id", "user_id", "group_id"),
            columns=(
                Column("task_id", "id", aliases=("msgid", "群发id", "任务id"), description="Broadcast task."),
                Column(
                    "staff_id",
                    "id",
                    aliases=("userid", "员工id", "成员id", "staff"),
                    description="Staff member asked to send it; always pseudonymised.",
                ),
                Column(
                    "user_id",
                    "id",
                    required=False,
                    nullable=True,
                    aliases=("external_userid", *USER_ID_ALIASES),
                    description="Customer (1:1 broadcast).",
                ),
                Column(
                    "group_id",
                    "id",
                    required=False,
                    nullable=True,
                    aliases=("chat_id", "群id", "roomid"),
                    description="Group (group broadcast).",
                ),
                Column(
                    "sent_at",
                    "timestamp",
                    required=False,
                    nullable=True,
                    aliases=("send_time", "发送时间"),
                    description="When it was sent (empty while not sent).",
                ),
                Column(
                    "send_status",
                    "enum",
                    enum=("not_sent", "sent", "failed_not_friend", "failed_limit"),
                    aliases=("status", "发送状态"),
                    description="WeCom status 0 not sent, 1 sent, 2 failed (not a friend), 3 failed (already got a "
                    "broadcast that day).",
                ),
            ),
        ),
        TableSpec(
            name="group_members",
            required=False,
            description="Group membership history (群成员), one row per member and join.",
            key=("group_id", "user_id", "joined_at"),
            references={},
            columns=(
                Column("group_id", "id", aliases=("chat_id", "群id", "roomid"), description="Group chat."),
                Column(
                    "user_id", "id", aliases=("userid", *USER_ID_ALIASES), description="Member (need not be a contact)."
                ),
                Column("joined_at", "timestamp", aliases=("join_time", "入群时间"), description="When they joined."),
                Column(
                    "join_scene",
                    "enum",
                    required=False,
                    nullable=True,
                    enum=("invited", "link", "qr"),
                    aliases=("入群方式",),
                    description="WeCom join_scene: 1 invited, 2 invitation link, 3 group QR.",
                ),
                Column(
                    "inviter",
                    "id",
                    required=False,
                    nullable=True,
                    aliases=("invitor", "邀请人"),
                    description="Who invited them; pseudonymised like a person id.",
                ),
                Column(
                    "quit_at",
                    "timestamp",
                    required=False,
                    nullable=True,
                    aliases=("quit_time", "退群时间"),
                    description="When they left; empty while a member.",
                ),
            ),
        ),
        TableSpec(
            name="spend",
            required=False,
            description="Acquisition spend per day and channel.",
            key=("date", "channel"),
            columns=(
                Column("date", "date", aliases=("日期", "day"), description="Day."),
                Column("channel", "text", aliases=CHANNEL_ALIASES, description="Channel, as in contacts."),
                Column("cost", "money", aliases=("花费", "消耗", "费用", "金额", "spend"), description="CNY spent."),
            ),
        ),
    )
}


def contract_markdown() -> str:
    """Render the contract tables as Markdown (the generated part of ``docs/data_contract.md``).

    Returns
    -------
    str
        One section per table: description, key, references and a column table.
    """
    kinds = {"id": "text id", "timestamp": "timestamp", "date": "date", "money": "CNY", "enum": "enum", "text": "text"}
    out = []
    for t in TABLES.values():
        out.append(f"### `{t.name}` — {'required' if t.required else 'optional'}\n")
        out.append(f"{t.description}\n")
        rules = []
        if t.key:
            rules.append(f"key: `{' + '.join(t.key)}` (later duplicates quarantined)")
        for col, ref in t.references.items():
            rules.append(f"`{col}` must exist in `{ref}` (else quarantined as orphan)")
        rules.append("exact duplicate rows quarantined" if t.exact_duplicates else "identical rows allowed")
        out.append("Rules: " + "; ".join(rules) + ".\n")
        out.append("| column | type | required column | empty allowed | accepted headers | meaning |")
        out.append("|---|---|---|---|---|---|")
        for c in t.columns:
            kind = kinds[c.kind] + (f": {', '.join(c.enum)}" if c.enum else "")
            aliases = ", ".join(f"`{a}`" for a in c.aliases) or "—"
            out.append(
                f"| `{c.name}` | {kind} | {'yes' if c.required else 'no'} | {'yes' if c.nullable else 'no'} "
                f"| {aliases} | {c.description} |"
            )
        out.append("")
    return "\n".join(out)
