/**
 * The bench's venue names (shared by copresence.ts and venue-search.ts): a
 * place, sometimes a brand, a shop word and a kind, as real names are built.
 */
const PLACES = ['春熙路', '太古里', '天府广场', '宽窄巷子', '锦里', '人民公园', '双流', '武侯', '青羊', '金牛', '高新', '温江', '郫都', '龙泉驿', '新都', '九眼桥', '建设路', '玉林', '桐梓林', '东郊记忆'];
const BRANDS = ['万达', '万象城', '伊藤洋华堂', '肯德基', '麦当劳', '星巴克', '华润', '红旗连锁', '舞东风', '沃尔玛', '家乐福', '永辉', '盒马', '海底捞', '小龙坎', '蜀大侠', '钢管厂', '奶茶', '中国移动', '工商银行'];
const KINDS = ['广场', '购物中心', '超市', '酒店', '餐厅', '药店', '医院', '小学', '地铁站', '公交站', '菜市场', '影城', '网吧', '健身房', '营业厅', '便利店', '火锅', '茶馆', '书店', '体育馆'];
export const COUNTIES = ['510104', '510105', '510106', '510107', '510108', '510112', '510113', '510114', '510115', '510116', '510502', '510503'];

/**
 * Shop names are where real venue names differ (张记牛肉面, 老妈蹄花): a
 * two-character shop word from a 300-character pool (90,000 words) between
 * a place and a kind, a brand for every fifth, a branch number for repeats —
 * so the names are neither all distinct nor 60 words recombined.
 */
export const POOL = '张王李赵刘陈杨黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤老记家福兴隆顺发祥瑞和美佳乐华盛达通明光辉荣昌鑫源泰安康宁春秋冬夏东南西北中天地人山水花月星云风雨金木火土日新旺利丰禾米面肉鱼鸡鸭牛羊豆菜果茶酒香甜酸辣麻鲜味品优良益宝贝珍奇巧艺雅韵书画琴棋诗文锦绣红蓝绿青紫黑白小大长方圆宏伟强壮健康乐园城村镇街巷楼阁亭台园林湖海江河溪泉';
export function venueName(i: number): string {
  const a = PLACES[i % PLACES.length]!;
  const h = (i * 2_654_435_761) >>> 0;
  const w = POOL[h % POOL.length]! + POOL[Math.floor(h / POOL.length) % POOL.length]!;
  const c = KINDS[Math.floor(h / 7919) % KINDS.length]!;
  const b = i % 5 === 0 ? BRANDS[Math.floor(h / 104_729) % BRANDS.length]! : '';
  const branch = Math.floor(i / 200_000);
  return `${a}${b}${w}${c}${branch === 0 ? '' : `${branch + 1}号店`}`;
}

