// What the page provides outside the ES modules: uPlot, loaded as a classic script before them.
declare const uPlot: any;
interface Window {
  uPlot: any;
}
